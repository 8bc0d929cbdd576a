import string

from hypothesis import given
from hypothesis import strategies as st

from rac_bench.models import EMBEDDED_MODEL_DIR
from rac_bench.zoo.tokenizer import CHARACTERS, SPECIAL_TOKENS, build_tokenizer

TOKENIZER = build_tokenizer()


@given(st.text(alphabet="".join(CHARACTERS), max_size=200))
def test_any_ascii_text_round_trips_one_token_per_character(text):
    ids = TOKENIZER(text, add_special_tokens=False).input_ids
    assert TOKENIZER.decode(ids) == text
    if not any(token in text for token in SPECIAL_TOKENS):  # tags such as <think> are one token each
        assert len(ids) == len(text)


def test_think_tags_are_single_tokens_that_survive_skipping_special_tokens():
    ids = TOKENIZER("<think>1+2=3</think>3<|end|>", add_special_tokens=False).input_ids
    assert len(ids) == 1 + 5 + 1 + 1 + 1
    assert TOKENIZER.decode(ids, skip_special_tokens=True) == "<think>1+2=3</think>3"


def test_chat_template_opens_the_assistant_turn():
    text = TOKENIZER.apply_chat_template(
        [{"role": "user", "content": "Compute 1+2 from left to right."}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|user|>Compute 1+2 from left to right.<|end|><|assistant|>"


def test_committed_tokenizer_matches_the_builder():
    from transformers import AutoTokenizer

    committed = AutoTokenizer.from_pretrained(EMBEDDED_MODEL_DIR)
    sample = string.printable[:90] + "<think>12+3=15</think>15<|end|>"
    assert committed(sample).input_ids == TOKENIZER(sample).input_ids
    assert committed.chat_template == TOKENIZER.chat_template
