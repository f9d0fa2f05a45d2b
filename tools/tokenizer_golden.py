#!/usr/bin/env python3
"""Build the tokenizer and chat-template golden files from a GGUF model.

Writes, under tests/golden/:
  tokenizer_smollm2.jsonl  one JSON object per line:
      {"text_b64": base64 of the input bytes, "valid_utf8": bool, "ids": [...]}
      The input bytes may be invalid UTF-8. A Python str cannot hold such
      bytes, so the reference tokenizes bytes.decode("utf-8", errors="replace"),
      which puts one U+FFFD per maximal invalid subpart; compactor's encode
      does the same replacement before tokenizing.
  tokenizer_pretokenize.json  the words of a subset of those strings under
      each supported pre-tokenizer (gpt2, smollm, llama-bpe, qwen2), as
      Hugging Face's pre-tokenizers split them.
  chat_template.json  conversations rendered by jinja2 from the GGUF's own
      tokenizer.chat_template.

The reference tokenizer is a `tokenizers.Tokenizer` built from the GGUF's
vocabulary and merges with the pre-tokenizer that tokenizer.ggml.pre names,
its control tokens registered as special added tokens. The script also loads
the GGUF through transformers (AutoTokenizer with gguf_file=...) and prints
where that tokenizer disagrees with the reference.

Usage: python tools/tokenizer_golden.py [--model PATH] [--out-dir DIR]
Strings are generated from a fixed seed, so reruns give the same files.
"""

import argparse
import base64
import json
import os
import random
import unicodedata
from pathlib import Path

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

from chat_render import render_chat_golden

SEED = 20250711
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"



# ---------------------------------------------------------------- GGUF reading

def read_gguf_tokenizer(path):
    """Return (tokens, token_types, merges, metadata strings) of a GGUF file."""
    reader = gguf.GGUFReader(str(path))

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    def ints(key):
        field = reader.fields[key]
        return [int(field.parts[i][0]) for i in field.data]

    def scalar_string(key):
        field = reader.fields.get(key)
        return None if field is None else bytes(field.parts[field.data[0]]).decode("utf-8")

    meta = {
        "pre": scalar_string("tokenizer.ggml.pre"),
        "model": scalar_string("tokenizer.ggml.model"),
        "chat_template": scalar_string("tokenizer.chat_template"),
    }
    return strings("tokenizer.ggml.tokens"), ints("tokenizer.ggml.token_type"), strings("tokenizer.ggml.merges"), meta


def build_reference(tokens, token_types, merges, pre):
    """Build the `tokenizers` reference for a gpt2-model GGUF vocabulary."""
    vocab = {token: i for i, token in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    elif pre in ("gpt2", "default"):
        tok.pre_tokenizer = byte_level
    else:
        raise SystemExit(f"tokenizer.ggml.pre {pre!r} is not supported by this script (smollm, gpt2, default)")
    tok.decoder = decoders.ByteLevel()

    # Control (3) and user-defined (4) tokens are matched whole in the text.
    added = [AddedToken(t, special=(ty == 3), normalized=False)
             for t, ty in zip(tokens, token_types) if ty in (3, 4)]
    tok.add_tokens(added)
    return tok


# ---------------------------------------------------------------- test strings

def read_text(path):
    return Path(path).read_text(encoding="utf-8", errors="replace")


def snippets(rng, text, count, min_len, max_len):
    out = []
    for _ in range(count):
        length = rng.randint(min_len, max_len)
        start = rng.randint(0, max(0, len(text) - length))
        out.append(text[start:start + length])
    return out


def prose_strings(rng):
    haystack = SHARED_DATA / "haystack"
    files = sorted(haystack.rglob("*.txt"))
    out = []
    for path in files:
        out += snippets(rng, read_text(path), 28, 10, 400)
    return out


def code_strings(rng):
    rows = []
    with open(SHARED_DATA / "longbench/tasks/lcc.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= 40:
                break
            rows.append(json.loads(line)["prompt"])
    out = []
    for prompt in rows:
        out += snippets(rng, prompt, 4, 20, 500)
    return out


def number_strings(rng):
    out = []
    for _ in range(40):
        out.append(str(rng.randint(0, 10 ** rng.randint(1, 15))))
    for _ in range(20):
        out.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}")
    for _ in range(20):
        out.append(f"Total: {rng.randint(0, 99999):,} items at ${rng.uniform(0, 999):.2f} on "
                   f"{rng.randint(1990, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
    out += [
        "3.14159265358979", "1e-10", "0x1F4A9", "+1 (555) 123-4567", "v1.2.3-rc4", "10:45:00",
        "٠١٢٣٤٥٦٧٨٩", "०१२३४५६७८९", "１２３４５", "²³¹", "½ ⅓ ¾", "Ⅻ Ⅳ ⅷ", "①②③", "𝟙𝟚𝟛",
        "abc123def456", "room 101b", "007", "1,000,000", "99%", "-0.0", "IPv4 192.168.0.1",
    ]
    return out


def whitespace_strings(rng):
    pieces = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000",
              "\u2009", "\u200b", "\u2028", "\x0b", "\x0c", "\u0085", "      "]
    words = ["hello", "world", "x", "def", "return", "42", "(", ")", ":", "über", "日本"]
    out = []
    for _ in range(110):
        parts = []
        for _ in range(rng.randint(1, 8)):
            parts.append(rng.choice(pieces) * rng.randint(1, 3))
            if rng.random() < 0.6:
                parts.append(rng.choice(words))
        out.append("".join(parts))
    out += [" ", "\n", "\t", "    ", "\n\n\n", " \t \n", "end   ", "   start"]
    return out


def emoji_strings(rng):
    emoji = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "🇯🇵", "❤️", "🧑🏿‍💻", "👩‍🔬", "🐍", "🤖",
             "✨", "🔥", "😂😂😂", "🫠", "☕", "⌚", "©", "™", "#️⃣", "1️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿"]
    out = list(emoji)
    for _ in range(70):
        parts = [rng.choice(emoji) if rng.random() < 0.5 else rng.choice(["great", " job", "!", " ", "ok"])
                 for _ in range(rng.randint(2, 7))]
        out.append("".join(parts))
    return out


def script_strings(rng):
    samples = [
        "日本語のテキストを分割します。", "東京は日本の首都です", "中文分词测试，包括标点符号。",
        "한국어 문장을 토큰화합니다.", "カタカナとひらがな", "繁體中文與简体中文",
        "مرحبا بالعالم، هذا نص عربي.", "שלום עולם, זהו טקסט בעברית.", "नमस्ते दुनिया, यह हिंदी पाठ है।",
        "Привет, мир! Это русский текст.", "Γειά σου Κόσμε", "สวัสดีชาวโลก", "Xin chào thế giới",
        "Zażółć gęślą jaźń", "Ærøskøbing på Ærø", "İstanbul'da ılık bir gün", "Ελληνικά και English",
        "The word 日本 in English text", "mixed: abc日本語def한국어ghi", "עברית and English mixed",
        "ﷺ ﷽", "ﬁﬂ ligatures", "Ｆｕｌｌｗｉｄｔｈ", "ǅungla", "ℌ𝔢𝔩𝔩𝔬", "a\u0301\u0302\u0303",
    ]
    out = list(samples)
    for _ in range(80):
        out.append(" ".join(rng.choice(samples) for _ in range(rng.randint(2, 4))))
    return out


def accented_strings(rng):
    words = ["café", "naïve", "résumé", "Ångström", "coöperate", "façade", "jalapeño", "Zürich",
             "São Paulo", "Dvořák", "Łódź", "crème brûlée", "piñata", "Øresund", "Éric", "ÉCOLE"]
    out = []
    for _ in range(45):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 5)))
        out.append(unicodedata.normalize("NFC", text))
        out.append(unicodedata.normalize("NFD", text))
    return out


def apostrophe_strings(rng):
    out = ["don't", "I'M here", "they'll've", "it's", "'s", "'S", "We'Re", "rock'n'roll", "’twas",
           "o'clock", "she'd", "you've", "' s", "''", "'''s", "l'amour", "Don’t"]
    for _ in range(40):
        word = "".join(rng.choice("abcdefgXYZ") for _ in range(rng.randint(1, 6)))
        out.append(word + rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x"]) + rng.choice(["", " ok", "!"]))
    return out


def ascii_fuzz_strings(rng):
    alphabet = "abcXYZ019 \t\n!?.,;:'\"()[]{}<>/\\|@#$%^&*-_=+~`"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(70)]


def unicode_fuzz_strings(rng):
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0x2000, 0x206F), (0x3040, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00),
              (0x1F300, 0x1F64F), (0x10000, 0x1007F), (0xE000, 0xE010), (0xFE00, 0xFE0F)]
    out = []
    for _ in range(70):
        chars = []
        for _ in range(rng.randint(1, 30)):
            lo, hi = rng.choice(ranges)
            chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars))
    return out


def special_token_strings(rng, specials):
    out = ["<|im_start|>user\nHi<|im_end|>\n", "<|im_start|><|im_end|>", "text<|endoftext|>more",
           "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
           "<|im_start", "im_end|>", "<|im_end|<|im_end|>", "<file_sep><filename>a.py",
           " <|im_start|> spaced ", "<|im_start|>12345<|im_end|>"]
    fillers = ["hello", " world", "\n", " 42", "é", "😀", "<", "|", ">", "<|", "|>"]
    for _ in range(60):
        parts = [rng.choice(specials) if rng.random() < 0.4 else rng.choice(fillers) for _ in range(rng.randint(2, 8))]
        out.append("".join(parts))
    return out


def invalid_utf8_byte_strings(rng):
    """Byte strings that are not valid UTF-8, covering each kind of maximal subpart."""
    out = [
        b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc0\xaf", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\xa0",
        b"\xed\xa0\x80", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xf0\x9f\x98",
        b"hi \xf0\x9f\x98 there", b"\xe2\x82", b"\xe2\x82\xac\xe2", b"\xc3", b"caf\xc3",
        b"\x80\x80\x80", b"\xbf", b"\xc3\x28", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc", b"\xf8\x88\x80\x80\x80",
        b"\xfc\x84\x80\x80\x80\x80", b"ok\xed\x9f\xbfok", b"\xef\xbf\xbd literal replacement",
        b"\xf0\x90\x80", b"\xf1\x80\x80", b"\xf3\xbf\xbf\xbf", b"\xf4\x8f\xbf\xbf", b"\xe1\x80\xe1\x80",
    ]
    pool = [b"a", b" ", b"1", b"\n", "é".encode(), "日".encode(), "😀".encode(), b"\x80", b"\xc3",
            b"\xe6\x97", b"\xf0\x9f", b"\xff", b"\xed\xa0", b"\xc0", b"word"]
    for _ in range(40):
        data = b"".join(rng.choice(pool) for _ in range(rng.randint(2, 10)))
        out.append(data)
    return out


def long_document_strings(rng):
    """Return a few long prose strings, so word caching and long inputs are exercised."""
    text = read_text(SHARED_DATA / "haystack/canterbury/alice29.txt")
    return snippets(rng, text, 3, 3000, 5000)


def make_strings(specials):
    rng = random.Random(SEED)
    texts = ["", "a", " ", "Hello, world!", "The quick brown fox jumps over the lazy dog."]
    groups = [prose_strings, code_strings, number_strings, whitespace_strings, emoji_strings,
              script_strings, accented_strings, apostrophe_strings, ascii_fuzz_strings,
              unicode_fuzz_strings, long_document_strings]
    for group in groups:
        texts += group(rng)
    texts += special_token_strings(rng, specials)

    inputs = [t.encode("utf-8") for t in texts]
    inputs += invalid_utf8_byte_strings(rng)
    return inputs


# ---------------------------------------------------------------- pre-tokenizers

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
               r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def reference_pre_tokenizers():
    """Return the Hugging Face pre-tokenizer of each tokenizer.ggml.pre name,
    configured as the models' own tokenizer.json files configure it."""
    gpt2 = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)

    def split_then_bytes(pattern):
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])

    return {
        "gpt2": gpt2,
        "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), gpt2]),
        "llama-bpe": split_then_bytes(LLAMA3_REGEX),
        "qwen2": split_then_bytes(QWEN2_REGEX),
    }


def pre_tokenizer_golden(inputs):
    """Words (in the byte-level alphabet) of a subset of the strings under each pre-tokenizer."""
    texts = [data.decode("utf-8") for data in inputs[::5] if is_valid_utf8(data)]
    texts = [t[:200] for t in texts]
    texts += ["I'M HERE, you'RE there", "1234567 89", "a\r\n\r\nb", "x \n\n y", "  \t\n", "don't\n\n1,000.5",
              "日本 123 日本語", "tab\tend", "trailing   ", "🙂🙂 ok"]
    words = {}
    for name, pre in reference_pre_tokenizers().items():
        words[name] = [[word for word, _ in pre.pre_tokenize_str(t)] for t in texts]
    return {"texts": texts, "words": words}


def is_valid_utf8(data):
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- transformers comparison

def compare_with_transformers(model_path, reference, inputs):
    """Print where transformers' own GGUF loading disagrees with the reference."""
    try:
        from transformers import AutoTokenizer
        hf = AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    except Exception as error:  # transformers' GGUF support varies by version.
        print(f"transformers GGUF tokenizer could not be loaded: {error}")
        return None

    differing = []
    for data in inputs:
        text = data.decode("utf-8", errors="replace")
        ours = reference.encode(text, add_special_tokens=False).ids
        theirs = hf.encode(text, add_special_tokens=False)
        if ours != theirs:
            differing.append((text, ours, theirs))
    print(f"transformers GGUF tokenizer differs from the reference on {len(differing)} of {len(inputs)} strings")
    for text, ours, theirs in differing[:5]:
        print(f"  {text[:60]!r}\n    reference:    {ours[:20]}\n    transformers: {theirs[:20]}")
    return len(differing)


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path(os.environ.get("COMPACTOR_MODEL", DEFAULT_MODEL)))
    parser.add_argument("--out-dir", type=Path, default=REPO / "tests/golden")
    args = parser.parse_args()

    tokens, token_types, merges, meta = read_gguf_tokenizer(args.model)
    if meta["model"] != "gpt2":
        raise SystemExit(f"tokenizer.ggml.model is {meta['model']!r}; this script handles gpt2 only")
    reference = build_reference(tokens, token_types, merges, meta["pre"])

    specials = [t for t, ty in zip(tokens, token_types) if ty == 3]
    inputs = make_strings(specials)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    out_path = args.out_dir / "tokenizer_smollm2.jsonl"
    with open(out_path, "w", encoding="utf-8") as f:
        for data in inputs:
            valid = is_valid_utf8(data)
            ids = reference.encode(data.decode("utf-8", errors="replace"), add_special_tokens=False).ids
            if valid:
                decoded = reference.decode(ids, skip_special_tokens=False)
                if decoded != data.decode("utf-8"):
                    print(f"reference decode does not round-trip: {data[:60]!r}")
            record = {"text_b64": base64.b64encode(data).decode("ascii"), "valid_utf8": valid, "ids": ids}
            f.write(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"wrote {len(inputs)} strings to {out_path} ({out_path.stat().st_size} bytes)")

    pre_path = args.out_dir / "tokenizer_pretokenize.json"
    pre_path.write_text(json.dumps(pre_tokenizer_golden(inputs), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {pre_path} ({pre_path.stat().st_size} bytes)")

    compare_with_transformers(args.model, reference, inputs)

    if meta["chat_template"]:
        chat_path = args.out_dir / "chat_template.json"
        chat_path.write_text(json.dumps(render_chat_golden(meta["chat_template"]), indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        print(f"wrote {chat_path}")


if __name__ == "__main__":
    main()
