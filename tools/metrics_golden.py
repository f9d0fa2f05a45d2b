#!/usr/bin/env python3
"""Build tests/golden/metrics.jsonl: reference scores for compactor's answer metrics.

Every line is one (prediction, references) pair and the score that LongBench or
RULER gives it:
  {"name": "qa_f1/articles", "metric": "qa_f1", "prediction": "...",
   "references": ["..."], "all_classes": [...], "first_line_only": false,
   "score": 0.5}

The metric definitions of LongBench v1 (metrics.py and eval.py) and RULER's
string match are restated below; the packages LongBench installs do the rest:
`rouge` 1.0.1 for ROUGE-L and `fuzzywuzzy` 0.18.0 for edit similarity. The
script stops when python-Levenshtein is importable, because fuzzywuzzy then
swaps difflib's SequenceMatcher for an LCS-based ratio; python-Levenshtein is
only fuzzywuzzy's optional `speedup` extra, so a plain install runs on difflib.

Pairs: hand-written edge cases for every metric, plus pairs built from the
answers of the LongBench task files with seeded perturbations.

Usage: python tools/metrics_golden.py [--data-dir DIR] [--out FILE]
  --data-dir  the LongBench data folder with tasks/*.jsonl
              (default: ../shared/data/longbench next to the repository)
"""

import argparse
import difflib
import json
import random
import re
import string
from collections import Counter
from pathlib import Path

from fuzzywuzzy import fuzz
from rouge import Rouge

SEED = 20250712
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# LongBench's and RULER's metrics, restated.

def longbench_normalize(text):
    """Lower-case, drop ASCII punctuation, blank out a/an/the, collapse spaces."""
    text = text.lower()
    text = "".join(c for c in text if c not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction_tokens, reference_tokens):
    n_same = sum((Counter(prediction_tokens) & Counter(reference_tokens)).values())
    if n_same == 0:
        return 0
    precision = 1.0 * n_same / len(prediction_tokens)
    recall = 1.0 * n_same / len(reference_tokens)
    return (2 * precision * recall) / (precision + recall)


def qa_f1(prediction, reference, all_classes):
    return token_f1(longbench_normalize(prediction).split(), longbench_normalize(reference).split())


def rouge_l(prediction, reference, all_classes):
    # LongBench scores 0 whenever the package raises (empty texts). A
    # RecursionError (sentence pairs of about 1,000 words) is raised on, so
    # such pairs never become golden values: compactor does not reproduce it.
    try:
        scores = Rouge().get_scores([prediction], [reference], avg=True)
    except RecursionError:
        raise
    except Exception:
        return 0.0
    return scores["rouge-l"]["f"]


def edit_sim(prediction, reference, all_classes):
    lines = prediction.lstrip("\n").split("\n")
    code = next((line for line in lines if "`" not in line and "#" not in line and "//" not in line), "")
    return fuzz.ratio(code, reference) / 100


def classification(prediction, reference, all_classes):
    found = [name for name in all_classes if name in prediction]
    # LongBench removes from the list while iterating over it, so the entry
    # after each removed one is skipped; that behaviour is part of the score.
    for name in found:
        if name in reference and name != reference:
            found.remove(name)
    if reference in found:
        return 1.0 / len(found)
    return 0.0


def share_of_numbers(prediction, expected):
    numbers = re.findall(r"\d+", prediction)
    if not numbers:
        return 0.0
    return float(sum(1 for number in numbers if number == expected) / len(numbers))


def count(prediction, reference, all_classes):
    return share_of_numbers(prediction, str(reference))


def retrieval(prediction, reference, all_classes):
    ids = re.findall(r"Paragraph (\d+)", reference)
    if not ids:
        return 0.0  # LongBench raises IndexError here; compactor scores 0
    return share_of_numbers(prediction, ids[0])


def string_match_all(prediction, references):
    if not references:
        return 0.0
    lowered = prediction.lower()
    return sum(1.0 if r.lower() in lowered else 0.0 for r in references) / len(references)


def string_match_any(prediction, references):
    lowered = prediction.lower()
    return max([1.0 if r.lower() in lowered else 0.0 for r in references], default=0.0)


PER_REFERENCE = {
    "qa_f1": qa_f1,
    "rouge_l": rouge_l,
    "edit_sim": edit_sim,
    "classification": classification,
    "count": count,
    "retrieval": retrieval,
}


def score(case):
    prediction = case["prediction"]
    if case["first_line_only"]:
        prediction = prediction.lstrip("\n").split("\n")[0]
    metric = case["metric"]
    if metric == "string_match_all":
        return string_match_all(prediction, case["references"])
    if metric == "string_match_any":
        return string_match_any(prediction, case["references"])
    best = 0.0
    for reference in case["references"]:
        best = max(best, PER_REFERENCE[metric](prediction, reference, case.get("all_classes") or []))
    return float(best)


# ---------------------------------------------------------------------------
# Cases.

def case(name, metric, prediction, references, all_classes=None, first_line_only=False):
    out = {
        "name": name,
        "metric": metric,
        "prediction": prediction,
        "references": references,
        "first_line_only": first_line_only,
    }
    if all_classes is not None:
        out["all_classes"] = all_classes
    return out


def hand_written_cases():
    cases = []
    add = cases.append

    # qa_f1
    add(case("qa_f1/exact", "qa_f1", "Bob Dylan", ["Bob Dylan"]))
    add(case("qa_f1/case_and_article", "qa_f1", "the beatles", ["The Beatles"]))
    add(case("qa_f1/only_articles", "qa_f1", "A an THE", ["an"]))
    add(case("qa_f1/punctuation", "qa_f1", "U.S.A.!", ["USA"]))
    add(case("qa_f1/punctuation_inside", "qa_f1", "rock-and-roll, (live)", ["rockandroll live"]))
    add(case("qa_f1/partial", "qa_f1", "He was born in Paris, France", ["Paris"]))
    add(case("qa_f1/repeated_tokens", "qa_f1", "cat cat cat dog", ["cat dog dog"]))
    add(case("qa_f1/empty_prediction", "qa_f1", "", ["Paris"]))
    add(case("qa_f1/whitespace_prediction", "qa_f1", " \t\n ", ["Paris"]))
    add(case("qa_f1/empty_reference", "qa_f1", "Paris", [""]))
    add(case("qa_f1/best_reference", "qa_f1", "five percent points", ["5 percent points.", "0.05 F1"]))
    add(case("qa_f1/no_references", "qa_f1", "Paris", []))
    add(case("qa_f1/unicode_case", "qa_f1", "CAFÉ MÜLLER Ångström", ["café müller ångström"]))
    add(case("qa_f1/dotted_capital_i", "qa_f1", "İSTANBUL", ["i̇stanbul"]))
    add(case("qa_f1/final_sigma", "qa_f1", "ΟΔΟΣ ΣΑΣ", ["οδος σας"]))
    add(case("qa_f1/article_inside_word", "qa_f1", "théâtre anthem a1 the_end", ["théâtre anthem"]))
    add(case("qa_f1/article_next_to_accent", "qa_f1", "éthe theé the", ["éthe theé"]))
    add(case("qa_f1/curly_quotes_kept", "qa_f1", "“Hello” — world’s", ["hello world’s"]))
    add(case("qa_f1/unicode_spaces", "qa_f1", "New\u00a0York\u3000City\u2003now", ["new york city"]))
    add(case("qa_f1/control_separators", "qa_f1", "alpha\x1cbeta\x1fgamma", ["alpha beta"]))
    add(case("qa_f1/numbers", "qa_f1", "1,000,000 dollars", ["1000000"]))
    add(case("qa_f1/cjk", "qa_f1", "東京 is the capital", ["東京"]))
    add(case("qa_f1/first_line", "qa_f1", "\n\nFifty-five\nQuestion: next one", ["fifty-five"], first_line_only=True))
    add(case("qa_f1/first_line_empty", "qa_f1", "\n\n\n", ["55"], first_line_only=True))

    # rouge_l
    add(case("rouge_l/exact", "rouge_l", "The cat sat on the mat.", ["The cat sat on the mat."]))
    add(case("rouge_l/case_sensitive", "rouge_l", "the cat sat", ["The Cat sat"]))
    add(case("rouge_l/two_sentences", "rouge_l", "A b c. D e f.", ["A b x. D y f. g"]))
    add(case("rouge_l/sentence_order", "rouge_l", "second part here. first part there.",
             ["first part there. second part here."]))
    add(case("rouge_l/repeated_words", "rouge_l", "the the the the", ["the cat the dog"]))
    add(case("rouge_l/empty_prediction", "rouge_l", "", ["A summary."]))
    add(case("rouge_l/only_periods", "rouge_l", "...", ["A summary."]))
    add(case("rouge_l/empty_reference", "rouge_l", "A summary.", [""]))
    add(case("rouge_l/space_sentence", "rouge_l", "Hello. . World", ["Hello world. ."]))
    add(case("rouge_l/trailing_space_sentence", "rouge_l", "Alpha beta. ", ["Alpha beta gamma."]))
    add(case("rouge_l/whitespace_runs", "rouge_l", "a  b\tc\nd", ["a b c d"]))
    add(case("rouge_l/unicode_spaces", "rouge_l", "x\u00a0y\u3000z", ["x y z"]))
    add(case("rouge_l/no_overlap", "rouge_l", "completely different words", ["nothing in common"]))
    add(case("rouge_l/decimal_points", "rouge_l", "It grew 3.5 percent in 2017.", ["Growth was 3.5 percent."]))
    add(case("rouge_l/best_reference", "rouge_l", "red blue green", ["red", "red blue", "yellow"]))
    add(case("rouge_l/union_across_sentences", "rouge_l", "a b c d. e f a b.", ["a b e f. c d a."]))
    add(case("rouge_l/tie_break", "rouge_l", "x a y b", ["a x b y"]))
    add(case("rouge_l/unicode_words", "rouge_l", "Die Größe ändert sich. Straße", ["die Größe. Straße ändert"]))

    # edit_sim
    add(case("edit_sim/exact", "edit_sim", "    return x + 1", ["    return x + 1"]))
    add(case("edit_sim/both_empty", "edit_sim", "", [""]))
    add(case("edit_sim/empty_prediction", "edit_sim", "", ["return x"]))
    add(case("edit_sim/empty_reference", "edit_sim", "return x", [""]))
    add(case("edit_sim/leading_newlines", "edit_sim", "\n\n  x = 1\ny = 2", ["  x = 1"]))
    add(case("edit_sim/skips_comment_lines", "edit_sim", "# set x\n// also x\n```python\nx = compute(1)",
             ["x = compute(2)"]))
    add(case("edit_sim/only_comments", "edit_sim", "# a\n# b", ["x = 1"]))
    add(case("edit_sim/hash_inside_code", "edit_sim", "s = '#'\nt = 1", ["t = 1"]))
    add(case("edit_sim/indentation", "edit_sim", "return value", ["        return value"]))
    add(case("edit_sim/round_half_to_even_down", "edit_sim", "abcdefgh", ["aXYZUVWQ"]))
    add(case("edit_sim/round_half_to_even_up", "edit_sim", "abcdefgh", ["abcXYZUV"]))
    add(case("edit_sim/unicode", "edit_sim", "naïve = «ü»", ["naive = \"u\""]))
    add(case("edit_sim/reordered", "edit_sim", "foo(bar, baz)", ["baz(bar, foo)"]))
    add(case("edit_sim/best_reference", "edit_sim", "x = 1", ["y = 2", "x = 1;"]))
    long_reference = "value = compute(" + ", ".join(f"arg{i} * a + b" for i in range(16)) + ")"
    long_prediction = long_reference.replace("arg", "param").replace(" + b", "")
    add(case("edit_sim/autojunk_long_reference", "edit_sim", long_prediction, [long_reference]))
    add(case("edit_sim/autojunk_spaces", "edit_sim", "a b c d e f g h i j" * 3, [" " * 150 + "a b c d e f" * 10]))

    # classification
    trec_like = ["Other location", "City", "Country", "Individual", "Date", "Other number", "Number of something"]
    add(case("classification/exact", "classification", "Individual", ["Individual"], trec_like))
    add(case("classification/with_text", "classification", "Type: City\nQuestion:", ["City"], trec_like))
    add(case("classification/first_line", "classification", "\nCity\nType: Country", ["City"], trec_like,
             first_line_only=True))
    add(case("classification/two_classes", "classification", "City or Country", ["City"], trec_like))
    add(case("classification/wrong", "classification", "Date", ["City"], trec_like))
    add(case("classification/lower_case", "classification", "city", ["City"], trec_like))
    add(case("classification/none", "classification", "", ["City"], trec_like))
    nested = ["New York", "York", "New", "Other"]
    add(case("classification/removal_skips_next", "classification", "New York", ["New York"], nested))
    add(case("classification/substring_of_reference", "classification", "York", ["New York"], nested))
    add(case("classification/three_nested", "classification", "New York Other", ["New York"], nested))

    # count
    add(case("count/exact", "count", "46", ["46"]))
    add(case("count/sentence", "count", "There are 46 unique paragraphs.", ["46"]))
    add(case("count/two_numbers", "count", "46 or 47", ["46"]))
    add(case("count/repeated", "count", "46, 46", ["46"]))
    add(case("count/leading_zero", "count", "046", ["46"]))
    add(case("count/words", "count", "forty-six", ["46"]))
    add(case("count/empty", "count", "", ["46"]))
    add(case("count/arabic_indic_digits", "count", "٤٦ and 46", ["46"]))
    add(case("count/fullwidth_digits", "count", "４６", ["46"]))

    # retrieval
    add(case("retrieval/exact", "retrieval", "Paragraph 19", ["Paragraph 19"]))
    add(case("retrieval/number_only", "retrieval", "19", ["Paragraph 19"]))
    add(case("retrieval/lower_case", "retrieval", "paragraph 19", ["Paragraph 19"]))
    add(case("retrieval/prefix_number", "retrieval", "Paragraph 1", ["Paragraph 19"]))
    add(case("retrieval/two", "retrieval", "Paragraph 19 or Paragraph 3", ["Paragraph 19"]))
    add(case("retrieval/of_thirty", "retrieval", "It is Paragraph 19 of 30.", ["Paragraph 19"]))
    add(case("retrieval/empty", "retrieval", "", ["Paragraph 19"]))
    add(case("retrieval/reference_without_paragraph", "retrieval", "19", ["19"]))

    # string_match_all and string_match_any (RULER)
    add(case("string_match_all/all", "string_match_all", "The values are 123 and 456.", ["123", "456"]))
    add(case("string_match_all/half", "string_match_all", "The value is 123.", ["123", "456"]))
    add(case("string_match_all/case", "string_match_all", "ANSWER: Blue-Whale", ["blue-whale", "ANSWER"]))
    add(case("string_match_all/none", "string_match_all", "nothing", ["123", "456", "789"]))
    add(case("string_match_all/no_references", "string_match_all", "123", []))
    add(case("string_match_all/empty_reference", "string_match_all", "abc", ["", "x"]))
    add(case("string_match_all/empty_prediction", "string_match_all", "", ["a"]))
    add(case("string_match_all/unicode_case", "string_match_all", "ÄPFEL und İSTANBUL", ["äpfel", "i̇stanbul"]))
    add(case("string_match_all/repeated_reference", "string_match_all", "cat", ["cat", "cat", "dog"]))
    add(case("string_match_any/one", "string_match_any", "It was Paris.", ["London", "paris"]))
    add(case("string_match_any/none", "string_match_any", "It was Rome.", ["London", "Paris"]))
    add(case("string_match_any/no_references", "string_match_any", "x", []))
    add(case("string_match_any/sigma", "string_match_any", "ΟΔΟΣ", ["οδος"]))
    return cases


def read_tasks(data_dir):
    tasks = {}
    for path in sorted((data_dir / "tasks").glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            tasks[path.stem] = [json.loads(line) for line in f if line.strip()]
    return tasks


def drop_words(text, rng, share):
    words = text.split(" ")
    return " ".join(w for w in words if rng.random() >= share)


def shuffle_sentences(text, rng):
    sentences = [s for s in text.split(". ") if s]
    rng.shuffle(sentences)
    return ". ".join(sentences)


def real_answer_cases(tasks, rng):
    cases = []
    add = cases.append

    qa_tasks = ["narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "triviaqa"]
    for task in qa_tasks:
        samples = tasks[task][:4]
        for i, sample in enumerate(samples):
            answers = sample["answers"]
            first = answers[0]
            other = samples[(i + 1) % len(samples)]["answers"][0]
            first_line = task == "triviaqa"
            add(case(f"qa_f1/{task}/{i}/exact", "qa_f1", first, answers, first_line_only=first_line))
            add(case(f"qa_f1/{task}/{i}/sentence", "qa_f1", f"The answer is: {first.upper()}!", answers,
                     first_line_only=first_line))
            add(case(f"qa_f1/{task}/{i}/half", "qa_f1", " ".join(first.split()[: max(1, len(first.split()) // 2)]),
                     answers, first_line_only=first_line))
            add(case(f"qa_f1/{task}/{i}/other", "qa_f1", f"{other}\n{first}", answers, first_line_only=first_line))

    for task in ["gov_report", "qmsum", "multi_news"]:
        samples = tasks[task][:3]
        for i, sample in enumerate(samples):
            reference = sample["answers"][0]
            other = samples[(i + 1) % len(samples)]["answers"][0]
            words = reference.split(" ")
            variants = {
                "exact": reference,
                "first_third": " ".join(words[: len(words) // 3]),
                "shuffled": shuffle_sentences(reference, rng),
                "dropped_words": drop_words(reference, rng, 0.15),
                "upper_case": reference.upper(),
                "other_summary": other,
            }
            for label, prediction in variants.items():
                add(case(f"rouge_l/{task}/{i}/{label}", "rouge_l", prediction, [reference]))

    lcc = tasks["lcc"][:8]
    for i, sample in enumerate(lcc):
        reference = sample["answers"][0]
        other = lcc[(i + 1) % len(lcc)]["answers"][0]
        chars = list(reference)
        for k in sorted(rng.sample(range(len(chars)), min(4, len(chars))), reverse=True):
            del chars[k]
        variants = {
            "exact": reference,
            "stripped": reference.strip(),
            "renamed": re.sub(r"[A-Za-z_]\w*", lambda m: m.group(0)[::-1], reference, count=2),
            "comment_first": "# next line\n" + reference,
            "fenced": "```python\n" + reference + "\n```",
            "deleted_chars": "".join(chars),
            "other_line": other,
        }
        for label, prediction in variants.items():
            add(case(f"edit_sim/lcc/{i}/{label}", "edit_sim", prediction, [reference]))

    trec = tasks["trec"]
    for i, sample in enumerate(trec[:5]):
        classes = sample["all_classes"]
        reference = sample["answers"][0]
        wrong = rng.choice([c for c in classes if c != reference])
        variants = {
            "exact": reference,
            "labelled": f"Type: {reference}\nQuestion: What is it ?",
            "two_classes": f"{reference} or {wrong}",
            "wrong": wrong,
            "lower_case": reference.lower(),
        }
        for label, prediction in variants.items():
            add(case(f"classification/trec/{i}/{label}", "classification", prediction, sample["answers"], classes,
                     first_line_only=True))

    for i, sample in enumerate(tasks["passage_count"]):
        n = sample["answers"][0]
        for label, prediction in {"exact": n, "sentence": f"The final count is {n}.",
                                  "off_by_one": str(int(n) + 1), "both": f"{n} or {int(n) + 1}"}.items():
            add(case(f"count/passage_count/{i}/{label}", "count", prediction, sample["answers"]))

    for i, sample in enumerate(tasks["passage_retrieval_en"][:4]):
        reference = sample["answers"][0]
        n = int(reference.split()[-1])
        for label, prediction in {"exact": reference, "number": str(n), "wrong": f"Paragraph {n % 30 + 1}",
                                  "two": f"Paragraph {n} and Paragraph {n % 30 + 1}"}.items():
            add(case(f"retrieval/passage_retrieval_en/{i}/{label}", "retrieval", prediction, [reference]))

    for i, sample in enumerate(tasks["hotpotqa"][:4]):
        answers = sample["answers"]
        add(case(f"string_match_any/hotpotqa/{i}", "string_match_any", f"I think {answers[0].lower()}.", answers))
        add(case(f"string_match_all/hotpotqa/{i}", "string_match_all", answers[0].upper(),
                 answers + ["unlikely answer"]))
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "longbench")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "golden" / "metrics.jsonl")
    args = parser.parse_args()

    if fuzz.SequenceMatcher is not difflib.SequenceMatcher:
        raise SystemExit("python-Levenshtein is installed, so fuzz.ratio would not use difflib as a plain "
                         "`pip install fuzzywuzzy` does; run this script in an environment without it")

    rng = random.Random(SEED)
    cases = hand_written_cases() + real_answer_cases(read_tasks(args.data_dir), rng)
    written = 0
    with args.out.open("w", encoding="utf-8") as out:
        for item in cases:
            try:
                item["score"] = score(item)
            except RecursionError:
                print(f"skipped {item['name']}: the rouge package ran out of recursion depth")
                continue
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
            written += 1
    by_metric = Counter(item["metric"] for item in cases if "score" in item)
    print(f"wrote {written} cases to {args.out}: " + ", ".join(f"{m} {n}" for m, n in sorted(by_metric.items())))


if __name__ == "__main__":
    main()
