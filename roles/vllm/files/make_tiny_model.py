#!/usr/bin/env python3
"""Write a tiny random-weight Llama (2 layers, hidden 128, 2 heads of 64) with a
locally trained byte-level BPE tokenizer and a chat template into OUTDIR.

Deterministic: the same --seed gives byte-identical files. Output is gibberish;
the model exists only to exercise a serving stack (e.g. vLLM on CPU).

    python make_tiny_model.py OUTDIR --seed 1 [--vocab-size 512]
"""

import argparse
import pathlib
import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def corpus(seed: int, lines: int = 2000):
    """Pseudo-English text from random syllables; the same seed gives the same text."""
    rng = random.Random(seed)
    syll = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
    words = ["".join(rng.choices(syll, k=rng.randint(1, 3))) for _ in range(400)]
    for _ in range(lines):
        yield " ".join(rng.choices(words, k=rng.randint(4, 14))).capitalize() + "."


def build_tokenizer(seed: int, vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        chat_template=CHAT_TEMPLATE,
        model_max_length=512,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vocab-size", type=int, default=512)
    args = ap.parse_args()

    tokenizer = build_tokenizer(args.seed, args.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids(["<|eos|>", "<|im_end|>"]),
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(args.outdir, safe_serialization=True)
    tokenizer.save_pretrained(args.outdir)
    # safetensors writes 0600; the engine runs as its own user and must read the weights.
    for path in pathlib.Path(args.outdir).iterdir():
        path.chmod(0o644)
    print(f"wrote {args.outdir}: {sum(p.numel() for p in model.parameters())} params, vocab {len(tokenizer)}")


if __name__ == "__main__":
    main()
