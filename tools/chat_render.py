"""Conversations and their jinja2 renderings for the chat-template golden files."""

import jinja2

CONVERSATIONS = [
    ([{"role": "user", "content": "What is the capital of France?"}], True),
    ([{"role": "user", "content": "What is the capital of France?"}], False),
    ([{"role": "system", "content": "You answer in one word."},
      {"role": "user", "content": "Capital of Peru?"}], True),
    ([{"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello! How can I help?"},
      {"role": "user", "content": "Tell me a joke\nabout cats."}], True),
    ([{"role": "system", "content": ""},
      {"role": "user", "content": "Empty system prompt."}], True),
    ([{"role": "user", "content": "Unicode: 日本語 😀 café\n\ttabbed"},
      {"role": "assistant", "content": "Noted."}], False),
    ([{"role": "assistant", "content": "I start the conversation."},
      {"role": "user", "content": "Fine."}], True),
]


def render_chat_golden(template_source, conversations=CONVERSATIONS, **variables):
    """Render each conversation with jinja2; `variables` (such as bos_token) go to every render."""
    env = jinja2.Environment(loader=jinja2.BaseLoader())
    template = env.from_string(template_source)
    cases = []
    for messages, add_generation_prompt in conversations:
        rendered = template.render(messages=messages, add_generation_prompt=add_generation_prompt, **variables)
        cases.append({"messages": messages, "add_generation_prompt": add_generation_prompt, "expected": rendered})
    return {"template": template_source, "cases": cases}
