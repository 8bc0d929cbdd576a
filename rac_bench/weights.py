"""Reading a model's weights as transformers does, but strictly: a tensor the files lack or hold in another shape,
a damaged weights file, NaN or inf are each one line (ModelLoadError) instead of random values or a traceback."""

from __future__ import annotations

from rac_bench.errors import ModelLoadError, first_line


def load_causal_lm(path, dtype):
    """transformers' loader, made strict: it would fill a tensor the files lack, or one of the wrong shape, with
    random values and go on, and it loads NaN and inf as any number. Each is one line (ModelLoadError)."""
    from safetensors import SafetensorError
    from transformers import AutoModelForCausalLM  # here: a command that loads no model never imports it
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # its load report is many lines; the error below is one
    try:
        model, info = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, output_loading_info=True)
    except SafetensorError as error:
        raise ModelLoadError(f"cannot load model {path}: a weights file is damaged ({first_line(error)})") from None
    except RuntimeError as error:
        if "mismatch" not in str(error):
            raise
        raise ModelLoadError(f"cannot load model {path}: a tensor has the wrong shape for its architecture") from None
    finally:
        transformers_logging.set_verbosity(verbosity)
    missing = sorted(info["missing_keys"]) + sorted(str(key) for key in info["mismatched_keys"])
    if missing:
        raise ModelLoadError(
            f"cannot load model {path}: its files lack {len(missing)} tensor(s) its architecture needs, or hold them "
            f"in another shape ({missing[0]}); transformers would fill them with random values"
        )
    check_finite(model, f"model {path}")
    return model.eval()


def check_finite(model, where) -> None:
    """Refuse weights holding NaN or inf: every metric of such a model is noise, and KL against it is undefined."""
    import torch

    for name, parameter in model.named_parameters():
        if parameter.is_floating_point() and not torch.isfinite(parameter).all():
            raise ModelLoadError(f"{where}: tensor {name} holds NaN or inf values; weights must be finite numbers")
