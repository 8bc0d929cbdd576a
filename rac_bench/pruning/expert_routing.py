"""Which calibration tokens feed an expert's statistics (rac_bench.pruning.experts): the choices and the smallest
routed-token count, apart from that module (which needs torch) so that the config can check them without a heavy
import."""

EXPERT_ROUTING = ("routed", "all")
DEFAULT_MIN_TOKENS = 128
