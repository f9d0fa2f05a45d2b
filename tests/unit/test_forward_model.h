// Tiny synthetic llama-family models for the forward-pass tests, and a plain
// scalar reference forward pass (naive loops, double accumulators) to compare
// the BLAS implementation with.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gguf/dequant.h"
#include "model/model.h"
#include "support/gguf_writer.h"

namespace compactor::test {

struct TinySpec {
    std::string arch = "llama";  // "llama" (normal RoPE) or "qwen2" (neox RoPE, Q/K/V biases)
    GgmlType weight_type = GgmlType::F32;  // type of every matrix; norms stay F32
    bool tied_output = true;     // omit output.weight
    int n_vocab = 64;
    int n_embd = 32;
    int n_layer = 2;
    int n_head = 4;
    int n_head_kv = 2;
    int n_ff = 64;
    int n_ctx = 256;  // context_length in the metadata
    float rope_freq_base = 10000.0f;
    float rms_norm_eps = 1e-5f;
    uint64_t seed = 7;
    std::string skip_tensor;       // leave this tensor out of the file
    std::string transpose_tensor;  // write this tensor with ne[0] and ne[1] swapped
};

// The weights exactly as the model stores them after dequantization, all
// row-major [out × in] like the GGUF tensors.
struct RefLayer {
    std::vector<float> attn_norm, wq, wk, wv, bq, bk, bv, wo, ffn_norm, w_gate, w_up, w_down;
};
struct RefWeights {
    TinySpec spec;
    int head_dim = 0;
    std::vector<float> token_embd, output_norm, output;
    std::vector<RefLayer> layers;
};

// Keys (after RoPE), values and positions per layer and KV head, one row per token.
struct RefCache {
    std::vector<std::vector<std::vector<float>>> k;  // [n_layer·n_head_kv][rows][head_dim]
    std::vector<std::vector<std::vector<float>>> v;
    std::vector<std::vector<int64_t>> pos;
    int64_t next_pos = 0;
};

inline std::vector<float> random_values(std::mt19937_64& rng, size_t n, float scale, float offset = 0.0f) {
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> values(n);
    for (float& x : values) x = offset + dist(rng);
    return values;
}

// Add a tensor to the file (unless the spec skips it) and return the values
// the model will read back.
inline std::vector<float> add_weight(GgufWriter& writer, const TinySpec& spec, const std::string& name,
                                     GgmlType type, std::vector<int64_t> ne, const std::vector<float>& values) {
    if (name == spec.transpose_tensor && ne.size() == 2) std::swap(ne[0], ne[1]);
    if (name != spec.skip_tensor) writer.add_tensor(name, type, ne, values);
    const std::vector<uint8_t> bytes = quantize(type, values);
    std::vector<float> stored(values.size());
    gguf::dequantize(type, bytes.data(), stored.data(), static_cast<int64_t>(values.size()));
    return stored;
}

// Write the model's metadata (everything except tensors).
inline void add_metadata(GgufWriter& w, const TinySpec& s) {
    const std::string a = s.arch;
    w.add_string("general.architecture", a);
    w.add_string("general.name", "tiny-" + a);
    w.add_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
    w.add_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
    w.add_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
    w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
    w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
    w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
    w.add_f32(a + ".rope.freq_base", s.rope_freq_base);
    w.add_f32(a + ".attention.layer_norm_rms_epsilon", s.rms_norm_eps);
}

// Build the model's GGUF image in `writer` and return its reference weights.
inline RefWeights build_tiny_model(const TinySpec& s, GgufWriter& w) {
    std::mt19937_64 rng(s.seed);
    RefWeights ref;
    ref.spec = s;
    ref.head_dim = s.n_embd / s.n_head;
    const int64_t n_q = static_cast<int64_t>(s.n_head) * ref.head_dim;
    const int64_t n_kv = static_cast<int64_t>(s.n_head_kv) * ref.head_dim;
    const auto sz = [](int64_t a, int64_t b) { return static_cast<size_t>(a * b); };
    // Scale 1/sqrt(in) keeps activations of order one through the layers.
    const auto matrix = [&](int64_t n_out, int64_t n_in) {
        return random_values(rng, sz(n_out, n_in), 1.7f / std::sqrt(static_cast<float>(n_in)));
    };
    const GgmlType t = s.weight_type;

    add_metadata(w, s);
    ref.token_embd = add_weight(w, s, "token_embd.weight", t, {s.n_embd, s.n_vocab},
                                random_values(rng, sz(s.n_vocab, s.n_embd), 1.0f));
    ref.output_norm = add_weight(w, s, "output_norm.weight", GgmlType::F32, {s.n_embd},
                                 random_values(rng, sz(1, s.n_embd), 0.2f, 1.0f));
    if (!s.tied_output) {
        ref.output = add_weight(w, s, "output.weight", t, {s.n_embd, s.n_vocab}, matrix(s.n_vocab, s.n_embd));
    }
    for (int il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        RefLayer l;
        l.attn_norm = add_weight(w, s, p + "attn_norm.weight", GgmlType::F32, {s.n_embd},
                                 random_values(rng, sz(1, s.n_embd), 0.2f, 1.0f));
        l.wq = add_weight(w, s, p + "attn_q.weight", t, {s.n_embd, n_q}, matrix(n_q, s.n_embd));
        l.wk = add_weight(w, s, p + "attn_k.weight", t, {s.n_embd, n_kv}, matrix(n_kv, s.n_embd));
        l.wv = add_weight(w, s, p + "attn_v.weight", t, {s.n_embd, n_kv}, matrix(n_kv, s.n_embd));
        if (s.arch == "qwen2") {
            l.bq = add_weight(w, s, p + "attn_q.bias", GgmlType::F32, {n_q}, random_values(rng, sz(1, n_q), 0.5f));
            l.bk = add_weight(w, s, p + "attn_k.bias", GgmlType::F32, {n_kv}, random_values(rng, sz(1, n_kv), 0.5f));
            l.bv = add_weight(w, s, p + "attn_v.bias", GgmlType::F32, {n_kv}, random_values(rng, sz(1, n_kv), 0.5f));
        }
        l.wo = add_weight(w, s, p + "attn_output.weight", t, {n_q, s.n_embd}, matrix(s.n_embd, n_q));
        l.ffn_norm = add_weight(w, s, p + "ffn_norm.weight", GgmlType::F32, {s.n_embd},
                                random_values(rng, sz(1, s.n_embd), 0.2f, 1.0f));
        l.w_gate = add_weight(w, s, p + "ffn_gate.weight", t, {s.n_embd, s.n_ff}, matrix(s.n_ff, s.n_embd));
        l.w_up = add_weight(w, s, p + "ffn_up.weight", t, {s.n_embd, s.n_ff}, matrix(s.n_ff, s.n_embd));
        l.w_down = add_weight(w, s, p + "ffn_down.weight", t, {s.n_ff, s.n_embd}, matrix(s.n_embd, s.n_ff));
        ref.layers.push_back(std::move(l));
    }
    return ref;
}

// Load a model from a writer's image through a temp file, removed once
// mapped (quantized weights keep reading the mapping, which outlives the name).
inline std::unique_ptr<Model> load_from_writer(const GgufWriter& writer, int n_threads = 2,
                                               WeightFormat format = WeightFormat::quantized) {
    const std::string path = writer.write_temp("compactor-tiny");
    std::unique_ptr<Model> model;
    try {
        model = Model::load(path, n_threads, format);
    } catch (...) {
        std::filesystem::remove(path);
        throw;
    }
    std::filesystem::remove(path);
    return model;
}

// ---- Scalar reference ----

inline RefCache make_ref_cache(const RefWeights& m) {
    RefCache c;
    const size_t n = static_cast<size_t>(m.spec.n_layer * m.spec.n_head_kv);
    c.k.resize(n);
    c.v.resize(n);
    c.pos.resize(n);
    return c;
}

// y[o] = Σ_i w[o][i] · x[i] + b[o]
inline std::vector<float> ref_matvec(const std::vector<float>& w, const std::vector<float>& b,
                                     const std::vector<float>& x, size_t n_out) {
    const size_t n_in = x.size();
    std::vector<float> y(n_out);
    for (size_t o = 0; o < n_out; ++o) {
        double acc = b.empty() ? 0.0 : b[o];
        for (size_t i = 0; i < n_in; ++i) acc += static_cast<double>(w[o * n_in + i]) * x[i];
        y[o] = static_cast<float>(acc);
    }
    return y;
}

inline std::vector<float> ref_rms_norm(const std::vector<float>& x, const std::vector<float>& weight, float eps) {
    double sum_sq = 0.0;
    for (float xi : x) sum_sq += static_cast<double>(xi) * xi;
    const double scale = 1.0 / std::sqrt(sum_sq / static_cast<double>(x.size()) + eps);
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(x[i] * scale * weight[i]);
    return y;
}

// RoPE of one head in place: llama pairs (2i, 2i+1), qwen2 pairs (i, i + d/2).
inline void ref_rope(float* head, int head_dim, int64_t pos, float base, bool neox) {
    for (int i = 0; i < head_dim / 2; ++i) {
        const double theta = static_cast<double>(pos) * std::pow(static_cast<double>(base), -2.0 * i / head_dim);
        const int a = neox ? i : 2 * i;
        const int b = neox ? i + head_dim / 2 : 2 * i + 1;
        const double x0 = head[a];
        const double x1 = head[b];
        head[a] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
        head[b] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
    }
}

// Attention of one query head over its KV head's cached rows with pos <= query_pos.
inline std::vector<float> ref_attend(const std::vector<float>& q_head, const std::vector<std::vector<float>>& keys,
                                     const std::vector<std::vector<float>>& values,
                                     const std::vector<int64_t>& positions, int64_t query_pos) {
    const size_t head_dim = q_head.size();
    std::vector<double> logits;
    std::vector<size_t> rows;
    for (size_t r = 0; r < keys.size(); ++r) {
        if (positions[r] > query_pos) continue;
        double dot = 0.0;
        for (size_t d = 0; d < head_dim; ++d) dot += static_cast<double>(q_head[d]) * keys[r][d];
        logits.push_back(dot / std::sqrt(static_cast<double>(head_dim)));
        rows.push_back(r);
    }
    double max_logit = -1e300;
    for (double l : logits) max_logit = std::max(max_logit, l);
    double sum = 0.0;
    for (double& l : logits) sum += (l = std::exp(l - max_logit));
    std::vector<double> out(head_dim, 0.0);
    for (size_t j = 0; j < rows.size(); ++j) {
        for (size_t d = 0; d < head_dim; ++d) out[d] += logits[j] / sum * values[rows[j]][d];
    }
    return std::vector<float>(out.begin(), out.end());
}

// Run the tokens one at a time (each attends to the cache and the earlier tokens)
// and return the logits of every token, [n_tokens][n_vocab].
inline std::vector<std::vector<float>> ref_forward(const RefWeights& m, const std::vector<int32_t>& tokens,
                                                   RefCache& cache) {
    const TinySpec& s = m.spec;
    const int hd = m.head_dim;
    const size_t n_embd = static_cast<size_t>(s.n_embd);
    const int group = s.n_head / s.n_head_kv;
    std::vector<std::vector<float>> all_logits;

    for (int32_t token : tokens) {
        const int64_t pos = cache.next_pos++;
        std::vector<float> x(m.token_embd.begin() + token * static_cast<int64_t>(n_embd),
                             m.token_embd.begin() + (token + 1) * static_cast<int64_t>(n_embd));
        for (int il = 0; il < s.n_layer; ++il) {
            const RefLayer& l = m.layers[static_cast<size_t>(il)];
            const std::vector<float> xn = ref_rms_norm(x, l.attn_norm, s.rms_norm_eps);
            std::vector<float> q = ref_matvec(l.wq, l.bq, xn, static_cast<size_t>(s.n_head * hd));
            std::vector<float> k = ref_matvec(l.wk, l.bk, xn, static_cast<size_t>(s.n_head_kv * hd));
            const std::vector<float> v = ref_matvec(l.wv, l.bv, xn, static_cast<size_t>(s.n_head_kv * hd));
            const bool neox = s.arch == "qwen2";
            for (int h = 0; h < s.n_head; ++h) ref_rope(q.data() + h * hd, hd, pos, s.rope_freq_base, neox);
            for (int h = 0; h < s.n_head_kv; ++h) {
                ref_rope(k.data() + h * hd, hd, pos, s.rope_freq_base, neox);
                const size_t slot = static_cast<size_t>(il * s.n_head_kv + h);
                cache.k[slot].emplace_back(k.begin() + h * hd, k.begin() + (h + 1) * hd);
                cache.v[slot].emplace_back(v.begin() + h * hd, v.begin() + (h + 1) * hd);
                cache.pos[slot].push_back(pos);
            }
            std::vector<float> attn;
            for (int h = 0; h < s.n_head; ++h) {
                const size_t slot = static_cast<size_t>(il * s.n_head_kv + h / group);
                const std::vector<float> q_head(q.begin() + h * hd, q.begin() + (h + 1) * hd);
                const std::vector<float> o = ref_attend(q_head, cache.k[slot], cache.v[slot], cache.pos[slot], pos);
                attn.insert(attn.end(), o.begin(), o.end());
            }
            const std::vector<float> attn_out = ref_matvec(l.wo, {}, attn, n_embd);
            for (size_t i = 0; i < n_embd; ++i) x[i] += attn_out[i];

            const std::vector<float> xf = ref_rms_norm(x, l.ffn_norm, s.rms_norm_eps);
            std::vector<float> gate = ref_matvec(l.w_gate, {}, xf, static_cast<size_t>(s.n_ff));
            const std::vector<float> up = ref_matvec(l.w_up, {}, xf, static_cast<size_t>(s.n_ff));
            for (size_t i = 0; i < gate.size(); ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
            const std::vector<float> down = ref_matvec(l.w_down, {}, gate, n_embd);
            for (size_t i = 0; i < n_embd; ++i) x[i] += down[i];
        }
        const std::vector<float> xo = ref_rms_norm(x, m.output_norm, s.rms_norm_eps);
        const std::vector<float>& head = m.output.empty() ? m.token_embd : m.output;
        all_logits.push_back(ref_matvec(head, {}, xo, static_cast<size_t>(s.n_vocab)));
    }
    return all_logits;
}

// Keep only rows `keep` of one reference cache head, as KvCache::compact does.
inline void ref_compact(RefCache& cache, const RefWeights& m, int il, int h, const std::vector<int64_t>& keep) {
    const size_t slot = static_cast<size_t>(il * m.spec.n_head_kv + h);
    std::vector<std::vector<float>> k, v;
    std::vector<int64_t> pos;
    for (int64_t r : keep) {
        k.push_back(cache.k[slot][static_cast<size_t>(r)]);
        v.push_back(cache.v[slot][static_cast<size_t>(r)]);
        pos.push_back(cache.pos[slot][static_cast<size_t>(r)]);
    }
    cache.k[slot] = std::move(k);
    cache.v[slot] = std::move(v);
    cache.pos[slot] = std::move(pos);
}

// max |a − b| over max |b|, the relative error the tests bound.
inline double relative_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double max_diff = 0.0;
    double max_ref = 0.0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
        max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
    }
    return max_diff / std::max(max_ref, 1e-30);
}

inline std::vector<int32_t> sample_tokens(int n_tokens, int n_vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
    std::vector<int32_t> tokens(static_cast<size_t>(n_tokens));
    for (int32_t& t : tokens) t = dist(rng);
    return tokens;
}

}  // namespace compactor::test
