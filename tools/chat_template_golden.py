#!/usr/bin/env python3
"""Build tests/golden/chat_template_llama3.json: Llama 3 turn syntax rendered by jinja2.

The templates below are written for this test in the turn syntax of Llama 3
Instruct models: <|start_header_id|>{role}<|end_header_id|>\\n\\n, the content
with surrounding whitespace trimmed, then <|eot_id|>. The second one also
inserts a default system turn from a single literal, as ChatML templates such
as SmolLM2's do. bos_token is rendered empty, because compactor's tokenizer
adds BOS itself and ChatTemplate::format leaves it out.

Usage: python tools/chat_template_golden.py [--out PATH]
The output depends only on the templates and conversations here and on jinja2.
"""

import argparse
import json
from pathlib import Path

from chat_render import CONVERSATIONS, render_chat_golden

REPO = Path(__file__).resolve().parent.parent

TURNS = (
    "{%- for message in messages -%}"
    "{%- if loop.first %}{{ bos_token }}{% endif -%}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' -}}"
    "{{- message['content'] | trim -}}"
    "{{- '<|eot_id|>' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif -%}"
)

DEFAULT_SYSTEM_PROMPT = "You are a concise assistant."

WITH_DEFAULT_SYSTEM = (
    "{%- if messages and messages[0]['role'] != 'system' -%}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n" + DEFAULT_SYSTEM_PROMPT + "<|eot_id|>' -}}"
    "{%- endif -%}" + TURNS
)

# Contents with whitespace at either end, which the template trims.
PADDED = [
    ([{"role": "user", "content": "  padded question \n"}], True),
    ([{"role": "system", "content": "\nSystem text.\t"},
      {"role": "user", "content": " \n "}], False),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests/golden/chat_template_llama3.json")
    args = parser.parse_args()

    conversations = CONVERSATIONS + PADDED
    templates = []
    for name, source, default_prompt in [("turns", TURNS, ""),
                                         ("default_system", WITH_DEFAULT_SYSTEM, DEFAULT_SYSTEM_PROMPT)]:
        golden = render_chat_golden(source, conversations, bos_token="")
        templates.append({"name": name, "default_system_prompt": default_prompt, **golden})

    args.out.write_text(json.dumps({"templates": templates}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(templates)} templates, {len(conversations)} conversations each)")


if __name__ == "__main__":
    main()
