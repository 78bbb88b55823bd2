// SPDX-License-Identifier: MIT
// Native floor for bench_decode.py: a plain C++ loop with no Python, the limit a Python-callable path can
// approach. Reads u32-length-prefixed records (a Binance USD-M REST depth snapshot, then combined-stream
// depthUpdate messages), installs the snapshot, then per message: simdjson on-demand parse, the USD-M
// update-id check (bridge U <= lastUpdateId <= u, then pu == previous u), apply to a price-indexed array
// book, read the best bid and ask. Prints one JSON line: best-of-N messages/s and the final best bid/ask.
//
// Build: g++ -O3 -std=c++17 -DNDEBUG -I<simdjson dir> floor.cpp <simdjson dir>/simdjson.cpp -o floor
// Run:   floor STREAM_FILE REPEAT [MIN_SECONDS MAX_RUNS]: at least REPEAT runs, more (up to MAX_RUNS) until
//        MIN_SECONDS of timed runs
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "simdjson.h"

using namespace simdjson;

constexpr int kPxDecimals = 1, kQtyDecimals = 3;  // Binance USD-M BTCUSDT: tick 0.1, lot 0.001

// Decimal text up to its closing quote (raw, unescaped JSON string) as an integer with `decimals` decimals;
// -1 when the text is not a plain non-negative decimal or is off that grid.
static inline int64_t fixed(const char *p, int decimals) {
    if ((unsigned)(*p - '0') > 9) return -1;
    int64_t v = 0;
    for (; (unsigned)(*p - '0') <= 9; p++) v = v * 10 + (*p - '0');
    int k = 0;
    if (*p == '.') {
        for (p++; (unsigned)(*p - '0') <= 9; p++) {
            if (k < decimals) {
                v = v * 10 + (*p - '0');
                k++;
            } else if (*p != '0') {
                return -1;
            }
        }
    }
    if (*p != '"') return -1;
    for (; k < decimals; k++) v *= 10;
    return v;
}

// One side as quantities indexed by price tick, and the best tick (-1 when empty). An update is a store;
// removing the best scans to the next level, usually a few ticks away.
class Side {
  public:
    explicit Side(bool bid) : bid_(bid) {}
    void clear() {
        std::fill(qty_.begin(), qty_.end(), 0);
        best_ = -1;
    }
    void set(int64_t px, int64_t qty) {
        if ((size_t)px >= qty_.size()) {
            if (qty == 0) return;
            qty_.resize((size_t)px + (size_t)px / 4 + 1, 0);
        }
        qty_[(size_t)px] = qty;
        if (qty) {
            if (best_ < 0 || (bid_ ? px > best_ : px < best_)) best_ = px;
        } else if (px == best_) {
            if (bid_) {
                while (best_ >= 0 && qty_[(size_t)best_] == 0) best_--;
            } else {
                while ((size_t)best_ < qty_.size() && qty_[(size_t)best_] == 0) best_++;
                if ((size_t)best_ == qty_.size()) best_ = -1;
            }
        }
    }
    int64_t best_px() const { return best_; }
    int64_t best_qty() const { return best_ < 0 ? 0 : qty_[(size_t)best_]; }

  private:
    bool bid_;
    int64_t best_ = -1;
    std::vector<int64_t> qty_;
};

struct Book {
    Side bids{true}, asks{false};
    int64_t last_id = 0;
    bool bridged = false;
};

static void apply_levels(ondemand::array levels, Side &side) {
    for (ondemand::array level : levels) {
        auto it = level.begin();
        int64_t px = fixed((*it).get_raw_json_string().value().raw(), kPxDecimals);
        ++it;
        int64_t qty = fixed((*it).get_raw_json_string().value().raw(), kQtyDecimals);
        if (px < 0 || qty < 0) throw std::runtime_error("level value not a decimal on the tick or lot grid");
        side.set(px, qty);
    }
}

// Padded copies of the records, so simdjson may read SIMDJSON_PADDING bytes past each one.
struct Records {
    std::vector<char> arena;
    std::vector<std::pair<size_t, size_t>> spans;  // offset, length
};

static Records read_records(const char *path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    std::vector<char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Records r;
    for (size_t at = 0; at + 4 <= data.size();) {
        uint32_t n;
        std::memcpy(&n, &data[at], 4);
        r.spans.emplace_back(r.arena.size(), n);
        r.arena.insert(r.arena.end(), data.begin() + (long)at + 4, data.begin() + (long)(at + 4 + n));
        r.arena.resize(r.arena.size() + SIMDJSON_PADDING, '\0');
        at += 4 + n;
    }
    if (r.spans.size() < 2) throw std::runtime_error("need a snapshot and at least one message");
    return r;
}

static void install_snapshot(ondemand::parser &parser, const Records &r, Book &book) {
    auto [off, n] = r.spans[0];
    ondemand::document doc = parser.iterate(&r.arena[off], n, n + SIMDJSON_PADDING);
    book.bids.clear();
    book.asks.clear();
    book.bridged = false;
    book.last_id = doc["lastUpdateId"].get_int64();
    apply_levels(doc["bids"], book.bids);
    apply_levels(doc["asks"], book.asks);
}

// Ticks and lots back to doubles: an exact integer over a power of ten, correctly rounded, so equal to
// the double of the decimal text.
static double pow10(int n) { return n ? 10.0 * pow10(n - 1) : 1.0; }
static double px(int64_t ticks) { return (double)ticks / pow10(kPxDecimals); }
static double qty(int64_t lots) { return (double)lots / pow10(kQtyDecimals); }

int main(int argc, char **argv) {
    if (argc != 3 && argc != 5) {
        std::fprintf(stderr, "usage: %s STREAM_FILE REPEAT [MIN_SECONDS MAX_RUNS]\n", argv[0]);
        return 2;
    }
    try {
        Records r = read_records(argv[1]);
        size_t repeat = (size_t)std::max(1, std::atoi(argv[2]));
        double min_seconds = argc == 5 ? std::atof(argv[3]) : 0.0, timed = 0.0;
        size_t max_runs = argc == 5 ? (size_t)std::max(1, std::atoi(argv[4])) : repeat;
        ondemand::parser parser;
        Book book;
        int64_t best[4] = {0, 0, 0, 0};
        std::vector<double> times;
        while (times.size() < repeat || (timed < min_seconds && times.size() < max_runs)) {
            install_snapshot(parser, r, book);
            auto t0 = std::chrono::steady_clock::now();
            for (size_t m = 1; m < r.spans.size(); m++) {
                auto [off, n] = r.spans[m];
                ondemand::document doc = parser.iterate(&r.arena[off], n, n + SIMDJSON_PADDING);
                ondemand::object data = doc["data"];
                int64_t first = data["U"], last = data["u"], prev = data["pu"];
                if (!book.bridged && last < book.last_id) continue;  // stale: older than the snapshot
                if (book.bridged ? prev != book.last_id : !(first <= book.last_id && book.last_id <= last))
                    throw std::runtime_error("update-id gap at message " + std::to_string(m));
                book.bridged = true;
                book.last_id = last;
                apply_levels(data["b"], book.bids);
                apply_levels(data["a"], book.asks);
                best[0] = book.bids.best_px();
                best[1] = book.bids.best_qty();
                best[2] = book.asks.best_px();
                best[3] = book.asks.best_qty();
            }
            times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            timed += times.back();
        }
        double best_s = *std::min_element(times.begin(), times.end());
        size_t messages = r.spans.size() - 1;
        std::printf("{\"messages\": %zu, \"seconds\": %.9f, \"messages_per_s\": %.1f, "
                    "\"final_best\": [%.17g, %.17g, %.17g, %.17g], \"times_s\": [",
                    messages, best_s, (double)messages / best_s, px(best[0]), qty(best[1]), px(best[2]),
                    qty(best[3]));
        for (size_t k = 0; k < times.size(); k++) std::printf("%s%.9f", k ? ", " : "", times[k]);
        std::printf("]}\n");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "floor: %s\n", e.what());
        return 1;
    }
    return 0;
}
