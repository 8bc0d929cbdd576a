"""Tiny random models of the architectures rac-bench is tested on, built from the installed transformers' config
classes (no download): 2 decoder layers, hidden 64, 8 experts top-2 where there are experts, sliding windows of
16 tokens where there are sliding windows."""

from __future__ import annotations

import torch
import transformers

VOCAB = 128  # the embedded tokenizer has 105 tokens
COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=1,
    head_dim=32,
    max_position_embeddings=512,
    tie_word_embeddings=False,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)
MOE = dict(num_experts_per_tok=2, moe_intermediate_size=32)
ARCHITECTURES = {
    "llama": ("LlamaConfig", {}),
    "qwen2": ("Qwen2Config", {}),
    "qwen3": ("Qwen3Config", {}),
    "mistral": ("MistralConfig", {}),
    "gemma2": ("Gemma2Config", dict(sliding_window=16, layer_types=["sliding_attention", "full_attention"])),
    "gemma3": ("Gemma3TextConfig", dict(sliding_window=16, layer_types=["sliding_attention", "full_attention"])),
    "phi3": ("Phi3Config", {}),  # fused qkv_proj and gate_up_proj
    "qwen3_moe": ("Qwen3MoeConfig", dict(MOE, num_experts=8, decoder_sparse_step=1)),
    "mixtral": ("MixtralConfig", dict(num_local_experts=8, num_experts_per_tok=2, intermediate_size=32)),
    "olmoe": ("OlmoeConfig", dict(num_experts=8, num_experts_per_tok=2, intermediate_size=32)),
    # experts stored [experts, in, out], biases, attention sinks, sliding and full attention
    "gpt_oss": (
        "GptOssConfig",
        dict(
            num_local_experts=8,
            num_experts_per_tok=2,
            intermediate_size=32,
            sliding_window=16,
            layer_types=["sliding_attention", "full_attention"],
        ),
    ),
    # multi-head latent attention, a dense first layer, routed experts beside shared ones
    "deepseek_v3": (
        "DeepseekV3Config",
        dict(
            MOE,
            n_routed_experts=8,
            first_k_dense_replace=1,
            n_group=1,
            topk_group=1,
            q_lora_rank=32,
            kv_lora_rank=32,
            qk_rope_head_dim=16,
            qk_nope_head_dim=16,
            v_head_dim=32,
            head_dim=16,
        ),
    ),
    # gated delta-net (linear attention, a convolution) and full attention, experts beside a gated shared expert
    "qwen3_next": (
        "Qwen3NextConfig",
        dict(
            MOE,
            num_experts=8,
            shared_expert_intermediate_size=32,
            layer_types=["linear_attention", "full_attention"],
            linear_num_value_heads=2,
            linear_num_key_heads=2,
            linear_key_head_dim=16,
            linear_value_head_dim=16,
        ),
    ),
}
MIXTURES = ("qwen3_moe", "mixtral", "olmoe", "gpt_oss", "deepseek_v3", "qwen3_next")
SLIDING = ("gemma2", "gemma3", "gpt_oss")


def tiny_config(name: str):
    class_name, extra = ARCHITECTURES[name]
    return getattr(transformers, class_name)(**{**COMMON, **extra})


def tiny_model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return transformers.AutoModelForCausalLM.from_config(tiny_config(name)).eval()
