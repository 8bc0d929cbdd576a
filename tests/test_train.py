from transformers import AutoModelForCausalLM, AutoTokenizer

from rac_bench.zoo import train


def test_training_script_runs_a_few_steps_and_saves_a_loadable_model(tmp_path):
    train.main(["--out", str(tmp_path / "model"), "--steps", "3", "--batch-size", "4", "--threads", "1"])
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert model.config.model_type == "qwen2"
    assert model.config.head_dim >= 32  # vLLM's CPU attention needs it
    assert tokenizer.eos_token == "<|end|>"


def test_training_is_deterministic(tmp_path):
    import torch

    for name in ("a", "b"):
        train.main(["--out", str(tmp_path / name), "--steps", "2", "--batch-size", "4", "--threads", "1"])
    a = AutoModelForCausalLM.from_pretrained(tmp_path / "a").state_dict()
    b = AutoModelForCausalLM.from_pretrained(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
