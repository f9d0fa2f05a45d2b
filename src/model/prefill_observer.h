// The hook through which compression scorers see each prefill chunk.
//
// The forward pass calls observe() once per layer per chunk, after the Q/K/V
// projections and RoPE, before attention. Scorers accumulate their state here
// so that scoring needs no second pass over the document.
#pragma once

#include <cstdint>
#include <vector>

namespace compactor {

class ThreadPool;

// One layer's projections for one chunk of n_tokens consecutive tokens.
// All arrays are token-major and contiguous:
//   q_raw    [n_tokens × n_head    × head_dim]  queries before RoPE
//   q_rope   [n_tokens × n_head    × head_dim]  queries after RoPE
//   k_raw    [n_tokens × n_head_kv × head_dim]  keys before RoPE (GGUF row order)
//   k_rope   [n_tokens × n_head_kv × head_dim]  keys after RoPE
//   v        [n_tokens × n_head_kv × head_dim]  values
struct LayerChunk {
    int il = 0;
    int64_t pos0 = 0;       // position of the chunk's first token in the document
    int64_t n_tokens = 0;
    int n_head = 0;
    int n_head_kv = 0;
    int head_dim = 0;
    const float* q_raw = nullptr;
    const float* q_rope = nullptr;
    const float* k_raw = nullptr;
    const float* k_rope = nullptr;
    const float* v = nullptr;
    // The forward pass's workers, idle while observe() runs; scorers may
    // spread their per-chunk work over them. Null means run serially.
    ThreadPool* pool = nullptr;
};

class PrefillObserver {
public:
    virtual ~PrefillObserver() = default;
    // Called for every layer of every chunk, layers in order within a chunk.
    // May be called from the forward pass's thread only (not concurrently).
    virtual void observe(const LayerChunk& chunk) = 0;
};

// Passes every chunk to several observers in order, so one prefill can feed
// many scorers.
class ObserverFanout : public PrefillObserver {
public:
    void add(PrefillObserver* observer) {
        if (observer != nullptr) observers_.push_back(observer);
    }
    bool empty() const { return observers_.empty(); }
    void observe(const LayerChunk& chunk) override {
        for (PrefillObserver* observer : observers_) observer->observe(chunk);
    }

private:
    std::vector<PrefillObserver*> observers_;
};

}  // namespace compactor
