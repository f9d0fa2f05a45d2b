#include "compress/window_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <cblas.h>
#include <fmt/format.h>

#include "compress/vector_math.h"
#include "model/softmax.h"

namespace compactor {

QueryWindow::QueryWindow(const ModelShape& shape, int window)
    : shape_(shape), window_(window), rows_(static_cast<size_t>(shape.n_layer)) {}

void QueryWindow::observe(const LayerChunk& chunk) {
    std::vector<float>& rows = rows_[static_cast<size_t>(chunk.il)];
    const size_t width = static_cast<size_t>(shape_.n_head) * static_cast<size_t>(shape_.head_dim);
    const int64_t take = std::min<int64_t>(window_, chunk.n_tokens);
    const int64_t n_stored = static_cast<int64_t>(rows.size() / width);
    const int64_t drop = std::max<int64_t>(0, n_stored + take - window_);

    rows.erase(rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(drop) * width));
    const float* first = chunk.q_rope + static_cast<size_t>(chunk.n_tokens - take) * width;
    rows.insert(rows.end(), first, first + static_cast<size_t>(take) * width);
}

int64_t QueryWindow::n_rows(int il) const {
    const size_t width = static_cast<size_t>(shape_.n_head) * static_cast<size_t>(shape_.head_dim);
    return static_cast<int64_t>(rows_[static_cast<size_t>(il)].size() / width);
}

void QueryWindow::head_major(int il, int64_t n_query, std::vector<float>& out) const {
    const int64_t n_stored = n_rows(il);
    if (n_query < 0 || n_query > n_stored) {
        throw std::logic_error(fmt::format("QueryWindow: {} queries requested from layer {}, which stores {}",
                                           n_query, il, n_stored));
    }
    const std::vector<float>& rows = rows_[static_cast<size_t>(il)];
    const size_t d = static_cast<size_t>(shape_.head_dim);
    const size_t width = static_cast<size_t>(shape_.n_head) * d;
    const size_t q = static_cast<size_t>(n_query);

    out.resize(static_cast<size_t>(shape_.n_head) * q * d);
    for (size_t i = 0; i < q; ++i) {
        const float* token = rows.data() + (static_cast<size_t>(n_stored - n_query) + i) * width;
        for (size_t hq = 0; hq < static_cast<size_t>(shape_.n_head); ++hq) {
            std::copy_n(token + hq * d, d, out.data() + (hq * q + i) * d);
        }
    }
}

void add_window_attention(const float* queries, int64_t n_rows, int64_t n_query, const float* keys, int64_t n_keys,
                          int head_dim, WindowAttentionWorkspace& workspace, std::vector<float>& column_sums) {
    if (n_query < 1 || n_query > n_keys || static_cast<int64_t>(column_sums.size()) != n_keys) {
        throw std::logic_error(fmt::format("window attention: {} queries over {} keys with {} column sums", n_query,
                                           n_keys, column_sums.size()));
    }
    if (n_rows == 0) return;
    const size_t n = static_cast<size_t>(n_keys);
    workspace.probs.resize(static_cast<size_t>(n_rows) * n);
    workspace.row_scale.resize(static_cast<size_t>(n_rows));

    // Logits [n_rows × n_keys] = Q Kᵀ / √d.
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_rows), static_cast<int>(n_keys), head_dim,
                scale, queries, head_dim, keys, head_dim, 0.0f, workspace.probs.data(), static_cast<int>(n_keys));

    // Causal softmax of each row; masked keys get probability 0.
    for (int64_t r = 0; r < n_rows; ++r) {
        float* row = workspace.probs.data() + static_cast<size_t>(r) * n;
        const int64_t visible = n_keys - n_query + r % n_query + 1;
        const float max_logit = max_of(row, visible);
        const double total = exp_shifted_in_place(row, visible, max_logit);
        if (!std::isfinite(max_logit) || !std::isfinite(total) || !(total > 0.0)) {
            throw std::runtime_error(fmt::format(
                "window attention: the logits of query row {} are not finite (max {}, sum of exponentials {}); "
                "the queries or keys contain NaN or infinite values",
                r, max_logit, total));
        }
        std::fill(row + visible, row + n_keys, 0.0f);
        workspace.row_scale[static_cast<size_t>(r)] = static_cast<float>(1.0 / total);
    }

    // column_sums += Pᵀ (1 / row sums): each row normalized and added.
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(n_rows), static_cast<int>(n_keys), 1.0f,
                workspace.probs.data(), static_cast<int>(n_keys), workspace.row_scale.data(), 1, 1.0f,
                column_sums.data(), 1);
}

}  // namespace compactor
