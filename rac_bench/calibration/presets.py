"""Named calibration recipes (`calibration: {preset: NAME}`): the settings a published RAC implementation
calibrates with, each with the file it comes from. A preset fills the calibration settings a config leaves
unset; a value the config gives wins. Neither is "the paper's": the paper's text does not list its sampling
settings, so each preset names the code it was read from.
"""

from __future__ import annotations

from rac_bench.errors import ConfigError

REFERENCE_SYSTEM_PROMPT = (
    "You are a helpful AI Assistant that provides well-reasoned and detailed responses. You first think about the "
    "reasoning process as an internal monologue and then provide the user with the answer. Respond in the following "
    "format: <think>\n...\n</think>\n<answer>\n...\n</answer>"
)
PORT_SYSTEM_PROMPT = (
    "You are a helpful AI Assistant that provides well-reasoned and detailed responses. You first think about the "
    "reasoning process as an internal monologue and then provide the user with the answer."
)

PRESETS: dict[str, dict] = {
    # The RAC authors' code, github.com/RyanLucas3/RAC (open-r1-main/):
    # - README.md, "Math traces" and "Prompt + CoT pruning": --max_completion_length 8192, --trace_tokens 1_000_000,
    #   --prune_calib_tokens 1_000_000; traces kept one per prompt ("-firstsol" trace datasets);
    # - recipes/DeepSeek-R1-Distill-Qwen-1.5B/grpo/config_demo.yaml: temperature 0.7, the system prompt above,
    #   max_prompt_length 512, dataset_prompt_column problem (the bare problem: no instruction appended);
    # - src/open_r1/open_r1_trl/trl/trainer/grpo_config.py: top_p 1.0 and top_k 50 (defaults the recipe keeps);
    # - src/open_r1/open_r1_trl/trl/trainer/grpo_trainer.py: prompts cut to their last max_prompt_length tokens;
    # - README.md "C4 pruning" (--dataset_prompt_column text) with src/open_r1/grpo.py `to_conversation`: each C4
    #   document is a user turn after the system prompt, rendered through the chat template.
    # The same config_demo.yaml also replaces DeepSeek's chat template; rac-bench keeps the model's own unless
    # `chat_template` names a file. Its pruning choices (every nn.Linear including lm_head; Hessians from the dense
    # model) are `pruning: {lm_head: true, hessians: dense}`, not part of this calibration preset.
    "reference": {
        "tokens": 1_000_000,
        "instruction": False,
        "system_prompt": REFERENCE_SYSTEM_PROMPT,
        "prompt_max_tokens": 512,
        "text_chat_template": True,
        "traces": {"temperature": 0.7, "top_p": 1.0, "top_k": 50, "max_new_tokens": 8192, "per_prompt": 1},
    },
    # The DeepSpeed port, github.com/deepspeedai/DeepSpeedExamples,
    # compression/reasoning_aware_compression/collect_traces.py (commit a801dbef): temperature 0.6, top_p 0.95,
    # no top-k, --max-new-tokens 8192, --num-generations 1, --trace-tokens 1_000_000, its DEFAULT_SYSTEM_PROMPT
    # (above) and the chat template applied to the bare prompt; its prune.py cuts C4 into 512 windows of 2,048
    # tokens (--nsamples, --seqlen), rac-bench's default for `text`.
    "ports": {
        "tokens": 1_000_000,
        "instruction": False,
        "system_prompt": PORT_SYSTEM_PROMPT,
        "prompt_max_tokens": None,
        "text_chat_template": False,
        "traces": {"temperature": 0.6, "top_p": 0.95, "top_k": None, "max_new_tokens": 8192, "per_prompt": 1},
    },
}


def with_preset(calibration: dict) -> dict:
    """The `calibration:` mapping with its preset's values under the ones it gives (nested `traces` merged)."""
    name = calibration.get("preset")
    if name is None:
        return calibration
    if name not in PRESETS:
        raise ConfigError(f"unknown calibration preset {name!r}; accepted: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    merged = {**preset, **calibration}
    traces = calibration.get("traces")
    if isinstance(traces, dict):
        merged["traces"] = {**preset["traces"], **traces}
    return merged
