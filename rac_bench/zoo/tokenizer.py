"""The embedded model's tokenizer: a Qwen2 byte-level BPE with no merges, so every printable ASCII character
is one token.

Digits as single tokens keep arithmetic learnable by a tiny model. It is a real `Qwen2Tokenizer` because
transformers (and so vLLM) load a qwen2 model's tokenizer as that class whatever tokenizer_config.json says;
any other pipeline would be silently replaced on load. Characters outside printable ASCII have no token.
"""

from __future__ import annotations

import string

from tokenizers import AddedToken
from transformers import Qwen2Tokenizer

PAD, BOS, END, UNK = "<|pad|>", "<|bos|>", "<|end|>", "<|unk|>"
USER, ASSISTANT = "<|user|>", "<|assistant|>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
SPECIAL_TOKENS = [PAD, BOS, END, UNK, USER, ASSISTANT, THINK_OPEN, THINK_CLOSE]
CHARACTERS = [c for c in string.printable if c not in "\x0b\x0c\r"]

# Renders a conversation the way the model was trained; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}<|user|>{{ message['content'] }}<|end|>"
    "{% elif message['role'] == 'assistant' %}<|assistant|>{{ message['content'] }}<|end|>"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def byte_level_symbol(character: str) -> str:
    """GPT-2 byte-level alphabet: printable bytes stand for themselves, the rest shift to U+0100 onwards."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    code = ord(character)
    if code in visible:
        return character
    return chr(256 + [b for b in range(256) if b not in visible].index(code))


def build_tokenizer() -> Qwen2Tokenizer:
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({byte_level_symbol(c): len(SPECIAL_TOKENS) + i for i, c in enumerate(CHARACTERS)})
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=[],
        unk_token=UNK,
        bos_token=BOS,
        eos_token=END,
        pad_token=PAD,
        extra_special_tokens=[USER, ASSISTANT],
    )
    # Like DeepSeek-R1's tokenizer: think tags are single tokens but not special, so decoding keeps them.
    tokenizer.add_tokens([AddedToken(THINK_OPEN, special=False), AddedToken(THINK_CLOSE, special=False)])
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.padding_side = "left"
    return tokenizer
