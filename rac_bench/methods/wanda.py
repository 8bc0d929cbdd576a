from rac_bench.methods import LayerwiseMethod, register_method
from rac_bench.pruning.wanda import wanda_prune

register_method(LayerwiseMethod("wanda", "Wanda |W|*||X|| per row, calibrated on task prompts", wanda_prune, "prompts"))
