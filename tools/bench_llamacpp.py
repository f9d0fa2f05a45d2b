"""Measure llama.cpp's prefill and decode speed on a GGUF file, for comparison with `compactor bench`.

llama.cpp runs through the llama-cpp-python package, compiled from its
source distribution so that llama.cpp is built for this CPU. When the
package is missing, the script installs the version pinned in
tools/requirements-bench.txt with
`pip install --no-binary llama-cpp-python llama-cpp-python==<pin>`
(it compiles llama.cpp: several minutes on 2 cores).

Every context length is measured on exactly the token ids that compactor
prefills: pass the file written by
`compactor bench --lengths ... --dump-tokens FILE --tokens-only`. Without
--tokens, the script runs that command itself (--compactor names the binary).

Per length, after one warm-up: prefill tokens/s (the whole context from an
empty cache, in batches of --n-batch tokens), and decode tokens/s over
--decode-tokens single-token steps after that prefill, each step feeding the
greedy choice of the previous one. Each figure is the median, min and max of
--runs runs.

Usage: python tools/bench_llamacpp.py --model M [--threads N] [--lengths 1024,2048]
           [--runs 3] [--decode-tokens 128] [--tokens FILE] [--json-out FILE]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = Path.home() / ".cache/compactor/models/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_COMPACTOR = REPO / "build/bin/compactor"
REQUIREMENTS = REPO / "tools/requirements-bench.txt"


def pinned_version(package: str) -> str:
    """The version that tools/requirements-bench.txt pins for `package`."""
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith(package + "=="):
            return line.split("==", 1)[1]
    raise SystemExit(f"{REQUIREMENTS} pins no version of {package}; add a line {package}==VERSION")


def import_llama_cpp():
    """Import llama_cpp, building it from source with pip first when it is missing."""
    try:
        import llama_cpp
        return llama_cpp
    except ImportError:
        pass
    version = pinned_version("llama-cpp-python")
    print(f"installing llama-cpp-python {version} from source (compiles llama.cpp, several minutes)",
          file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-binary", "llama-cpp-python",
                    f"llama-cpp-python=={version}"], check=True)
    import llama_cpp
    return llama_cpp


def spread(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def load_tokens(args, lengths):
    """Token ids per length: from --tokens, or from `compactor bench --dump-tokens`."""
    path = args.tokens
    if path is None:
        path = os.path.join(tempfile.mkdtemp(prefix="compactor-bench-"), "tokens.json")
        command = [args.compactor, "bench", "--model", args.model, "--lengths", ",".join(map(str, lengths)),
                   "--dump-tokens", path, "--tokens-only", "--log-level", "warn"]
        subprocess.run(command, check=True)
    dump = json.loads(Path(path).read_text())
    tokens = {}
    for length in lengths:
        ids = dump["tokens"].get(str(length))
        if ids is None:
            raise SystemExit(f"{path} has no tokens for length {length}; dump them with "
                             f"compactor bench --lengths {length} --dump-tokens {path} --tokens-only")
        if len(ids) != length:
            raise SystemExit(f"{path} contains {len(ids)} tokens for length {length}, expected exactly {length}; "
                             "dump them again with compactor bench --dump-tokens")
        tokens[length] = ids
    return tokens


def greedy(llm, llama_cpp):
    """Return the most likely next token after the last evaluated one.

    It reads llama.cpp's logits buffer, because Llama.scores stays empty unless
    every token's logits are kept."""
    import numpy as np
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits(llm.ctx), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def measure_once(llm, llama_cpp, ids, decode_tokens):
    """Seconds for one prefill of `ids` from an empty cache and for decode_tokens steps after it."""
    # reset() rewinds to position 0; eval() then drops every cached entry
    # from that position on before it decodes.
    llm.reset()

    start = time.perf_counter()
    llm.eval(ids)
    prefill_s = time.perf_counter() - start

    token = greedy(llm, llama_cpp)
    start = time.perf_counter()
    for _ in range(decode_tokens):
        llm.eval([token])
        token = greedy(llm, llama_cpp)
    decode_s = time.perf_counter() - start
    return prefill_s, decode_s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=os.environ.get("COMPACTOR_MODEL", str(DEFAULT_MODEL)))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="llama.cpp threads (default: all cores)")
    parser.add_argument("--lengths", default="1024,2048,4096,8192", help="context lengths in tokens, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per length after one warm-up")
    parser.add_argument("--decode-tokens", type=int, default=128, help="decode steps per run")
    parser.add_argument("--n-batch", type=int, default=512,
                        help="tokens per llama.cpp batch (compactor's --prefill-chunk default is the same)")
    parser.add_argument("--tokens", help="token ids written by compactor bench --dump-tokens")
    parser.add_argument("--compactor", default=os.environ.get("COMPACTOR_BINARY", str(DEFAULT_COMPACTOR)),
                        help="compactor binary that dumps the token ids when --tokens is absent")
    parser.add_argument("--json-out", help="write the results to this JSON file as well")
    args = parser.parse_args()

    lengths = sorted({int(x) for x in args.lengths.split(",") if x.strip()})
    if not lengths or lengths[0] < 1:
        raise SystemExit(f"--lengths {args.lengths} is invalid; pass positive token counts such as 1024,2048")
    if args.runs < 1 or args.decode_tokens < 1 or args.threads < 1:
        raise SystemExit("--runs, --decode-tokens and --threads must be at least 1")
    if not Path(args.model).is_file():
        raise SystemExit(f"model file not found: {args.model} (run scripts/fetch_model.sh or pass --model PATH)")

    tokens = load_tokens(args, lengths)
    llama_cpp = import_llama_cpp()
    n_ctx = lengths[-1] + args.decode_tokens + 16
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=n_ctx, n_threads=args.threads,
                          n_threads_batch=args.threads, n_batch=args.n_batch, n_ubatch=args.n_batch,
                          logits_all=False, verbose=False)

    results = []
    for length in lengths:
        ids = tokens[length]
        print(f"llama.cpp: {length} tokens, warm-up run", file=sys.stderr, flush=True)
        measure_once(llm, llama_cpp, ids, args.decode_tokens)
        prefill, decode = [], []
        for run in range(args.runs):
            prefill_s, decode_s = measure_once(llm, llama_cpp, ids, args.decode_tokens)
            prefill.append(length / prefill_s)
            decode.append(args.decode_tokens / decode_s)
            print(f"llama.cpp: {length} tokens, run {run + 1}: prefill {prefill[-1]:.1f} tokens/s, "
                  f"decode {decode[-1]:.1f} tokens/s", file=sys.stderr, flush=True)
        results.append({"n_tokens": length, "prefill_tokens_per_s": spread(prefill),
                        "decode_tokens_per_s": spread(decode)})

    report = {
        "engine": "llama.cpp",
        "llama_cpp_python": llama_cpp.__version__,
        "system_info": llama_cpp.llama_print_system_info().decode(),
        "model": args.model,
        "n_threads": args.threads,
        "n_batch": args.n_batch,
        "n_ctx": n_ctx,
        "runs": args.runs,
        "decode_tokens": args.decode_tokens,
        "lengths": results,
    }
    text = json.dumps(report, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
