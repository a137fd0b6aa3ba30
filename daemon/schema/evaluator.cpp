#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "schema/program.hpp"
#include "schema/uri.hpp"

namespace sluice::schema {
namespace {

namespace dom = simdjson::dom;

// What in-place subschemas evaluated, for unevaluatedProperties / unevaluatedItems.
struct annotations {
    std::vector<std::string_view> properties;
    std::vector<char> items;  // 1 for each evaluated index

    void mark_property(std::string_view name) { properties.push_back(name); }
    bool has_property(std::string_view name) const {
        return std::find(properties.begin(), properties.end(), name) != properties.end();
    }
    void mark_item(std::size_t i) {
        if (items.size() <= i) items.resize(i + 1, 0);
        items[i] = 1;
    }
    bool has_item(std::size_t i) const { return i < items.size() && items[i]; }
    void merge(const annotations& o) {
        properties.insert(properties.end(), o.properties.begin(), o.properties.end());
        if (items.size() < o.items.size()) items.resize(o.items.size(), 0);
        for (std::size_t i = 0; i < o.items.size(); ++i) items[i] |= o.items[i];
    }
};

// Equality of short strings (property names, enum values) without a call into
// memcmp: 8 bytes at a time, then the tail.
[[gnu::always_inline]] inline bool same(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    const char* x = a.data();
    const char* y = b.data();
    std::size_t n = a.size();
    for (; n >= 8; n -= 8, x += 8, y += 8) {
        std::uint64_t u, v;
        std::memcpy(&u, x, 8);
        std::memcpy(&v, y, 8);
        if (u != v) return false;
    }
    if (n >= 4) {
        std::uint32_t u, v;
        std::memcpy(&u, x, 4);
        std::memcpy(&v, y, 4);
        if (u != v) return false;
        x += 4, y += 4, n -= 4;
    }
    for (; n > 0; --n)
        if (*x++ != *y++) return false;
    return true;
}

double number_value(dom::element e) {
    switch (e.type()) {
        case dom::element_type::INT64:
            return double(std::int64_t(e));
        case dom::element_type::UINT64:
            return double(std::uint64_t(e));
        default:
            return double(e);
    }
}

long double exact_value(dom::element e) {
    switch (e.type()) {
        case dom::element_type::INT64:
            return static_cast<long double>(std::int64_t(e));
        case dom::element_type::UINT64:
            return static_cast<long double>(std::uint64_t(e));
        default:
            return static_cast<long double>(double(e));
    }
}

bool is_number(dom::element e) {
    auto t = e.type();
    return t == dom::element_type::INT64 || t == dom::element_type::UINT64 ||
           t == dom::element_type::DOUBLE;
}

// JSON equality: numbers by value (1 == 1.0), objects regardless of member order.
bool equal(dom::element a, dom::element b) {
    if (is_number(a) && is_number(b)) {
        auto ta = a.type(), tb = b.type();
        if (ta == dom::element_type::INT64 && tb == dom::element_type::INT64)
            return std::int64_t(a) == std::int64_t(b);
        if (ta == dom::element_type::UINT64 && tb == dom::element_type::UINT64)
            return std::uint64_t(a) == std::uint64_t(b);
        // simdjson uses UINT64 only from 2^63 up, so an INT64 never equals a UINT64;
        // against a double, long double holds every 64-bit integer exactly.
        if (ta != dom::element_type::DOUBLE && tb != dom::element_type::DOUBLE) return false;
        return exact_value(a) == exact_value(b);
    }
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case dom::element_type::NULL_VALUE:
            return true;
        case dom::element_type::BOOL:
            return bool(a) == bool(b);
        case dom::element_type::STRING:
            return std::string_view(a) == std::string_view(b);
        case dom::element_type::ARRAY: {
            dom::array x(a), y(b);
            if (x.size() != y.size()) return false;
            auto i = x.begin(), j = y.begin();
            for (; i != x.end(); ++i, ++j)
                if (!equal(*i, *j)) return false;
            return true;
        }
        case dom::element_type::OBJECT: {
            dom::object x(a), y(b);
            if (x.size() != y.size()) return false;
            for (auto f : x) {
                dom::element other;
                if (y.at_key(f.key).get(other) || !equal(f.value, other)) return false;
            }
            return true;
        }
        default:
            return false;
    }
}

// A finalizer that spreads every bit of `h` over the result (splitmix64's).
std::uint64_t mix(std::uint64_t h) {
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

// A hash that agrees with equal(): numbers by value (1, 1.0 and 1e0 alike), objects
// regardless of member order. Adds the values it visited to `work`.
[[gnu::noinline]] std::uint64_t json_hash(dom::element e, std::uint64_t& work) {
    ++work;
    switch (e.type()) {
        case dom::element_type::NULL_VALUE:
            return mix(1);
        case dom::element_type::BOOL:
            return mix(bool(e) ? 3 : 2);
        case dom::element_type::STRING:
            return mix(std::hash<std::string_view>{}(std::string_view(e)) ^ 4);
        case dom::element_type::ARRAY: {
            std::uint64_t h = mix(5);
            for (auto item : dom::array(e))
                h = mix(h + 0x9e3779b97f4a7c15ull + json_hash(item, work));
            return h;
        }
        case dom::element_type::OBJECT: {
            std::uint64_t sum = 0;  // a sum, so member order does not matter
            for (auto f : dom::object(e))
                sum += mix(std::hash<std::string_view>{}(f.key) +
                           0x9e3779b97f4a7c15ull * json_hash(f.value, work));
            return mix(sum ^ 6);
        }
        case dom::element_type::INT64:
            return mix(static_cast<std::uint64_t>(e.get_int64().value_unsafe()));
        case dom::element_type::UINT64:  // only from 2^63 up
            return mix(e.get_uint64().value_unsafe());
        default: {
            // An integral double by the integer it equals (as an INT64 or a UINT64
            // of that value hashes), the rest by its bits.
            double d = e.get_double().value_unsafe();
            if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
                static_cast<double>(static_cast<std::int64_t>(d)) == d)
                return mix(static_cast<std::uint64_t>(static_cast<std::int64_t>(d)));
            if (d >= 0 && d < 18446744073709551616.0 &&
                static_cast<double>(static_cast<std::uint64_t>(d)) == d)
                return mix(static_cast<std::uint64_t>(d));
            std::uint64_t bits;
            std::memcpy(&bits, &d, sizeof bits);
            return mix(bits ^ 7);
        }
    }
}

std::size_t code_points(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::string type_name(dom::element e) {
    switch (e.type()) {
        case dom::element_type::NULL_VALUE:
            return "null";
        case dom::element_type::BOOL:
            return "a boolean";
        case dom::element_type::OBJECT:
            return "an object";
        case dom::element_type::ARRAY:
            return "an array";
        case dom::element_type::STRING:
            return "a string";
        case dom::element_type::DOUBLE:
            return is_integral(double(e)) ? "an integer" : "a number";
        default:
            return "an integer";
    }
}

std::string names_of(std::uint32_t bits) {
    static constexpr std::pair<std::uint32_t, const char*> names[] = {
        {t_null, "null"},         {t_boolean, "a boolean"}, {t_object, "an object"},
        {t_array, "an array"},    {t_number, "a number"},   {t_string, "a string"},
        {t_integer, "an integer"}};
    std::string out;
    for (auto [bit, name] : names)
        if (bits & bit) out += out.empty() ? std::string(name) : std::string(" or ") + name;
    return out;
}

// A short rendering of an instance value for messages.
std::string show(dom::element e) {
    std::string s = simdjson::minify(e);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

std::string show_number(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    std::string s = buf;
    // Shortest form that round-trips.
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) return buf;
    }
    return s;
}

// The dynamic scope: resource ids, outermost first. Inline up to a depth that real
// schemas never reach, so the success path does not allocate.
class scope_stack {
  public:
    void push(std::uint32_t r) {
        if (size_ < inline_.size())
            inline_[size_] = r;
        else
            overflow_.push_back(r);
        ++size_;
    }
    void pop() {
        --size_;
        if (size_ >= inline_.size()) overflow_.pop_back();
    }
    bool empty() const { return size_ == 0; }
    std::uint32_t back() const { return (*this)[size_ - 1]; }
    std::size_t size() const { return size_; }
    std::uint32_t operator[](std::size_t i) const {
        return i < inline_.size() ? inline_[i] : overflow_[i - inline_.size()];
    }

  private:
    std::array<std::uint32_t, 32> inline_;  // only [0, size_) is ever read
    std::vector<std::uint32_t> overflow_;
    std::size_t size_ = 0;
};

// What the passes over one instance share: the limits, the steps left, and the first
// search that gave up (usually the only one: a pass that does not collect stops at its
// first failure), so the second pass does not run it again. A value on which a
// pattern gives up is undecided, wherever the pattern sits (under `not`, in a oneOf
// branch): the instance is refused, and the violation saying so is kept even when
// the subschema's own violations are not.
struct pass_state {
    regex_limits limits;
    std::uint64_t steps_left = 0;
    bool exhausted = false;
    const regex* gave_up = nullptr;
    const char* gave_up_at = nullptr;
    std::size_t gave_up_size = 0;
    std::optional<violation>* gave_up_violation = nullptr;  // the first one reported
};

class evaluator {
  public:
    evaluator(const validator::program& p, std::vector<violation>* errors, std::size_t max_errors,
              pass_state& state)
        : p_(p)
        , errors_(errors)
        , max_errors_(max_errors)
        , state_(state)
        , steps_left_(state.steps_left) {}
    ~evaluator() { state_.steps_left = steps_left_; }
    evaluator(const evaluator&) = delete;
    evaluator& operator=(const evaluator&) = delete;

    // False when the instance is invalid or the steps ran out before it was decided.
    bool run(dom::element instance) {
        bool ok = eval(p_.root, instance, nullptr);
        return ok && !state_.exhausted && !state_.gave_up;
    }

  private:
    bool collecting() const { return errors_ != nullptr; }

    // True when nothing more need be looked at: not collecting (the first failure
    // decides), the violations reached their cap, or the steps ran out.
    bool done() const { return !errors_ || errors_->size() >= max_errors_ || state_.exhausted; }

    void report(const std::string& absolute, std::string message, std::string_view code = {}) {
        if (!errors_ || errors_->size() >= max_errors_) return;
        errors_->push_back({instance_path_, keyword_path_, absolute, std::move(message), code});
        if (code == "regex_limit" && state_.gave_up_violation && !*state_.gave_up_violation)
            *state_.gave_up_violation = errors_->back();
    }

    // Takes `n` steps from the budget; false (and the evaluation over) when it has
    // not that many left.
    [[gnu::always_inline]] bool spend(std::uint64_t n) {
        if (steps_left_ >= n) [[likely]] {
            steps_left_ -= n;
            return true;
        }
        steps_left_ = 0;
        state_.exhausted = true;
        return false;
    }

    // `re` on `s` under the configured limits, its work charged to the budget (a
    // step per four units of match limit). Says `limit` at once for the search that
    // gave up in the first pass. Out of line: it keeps the leaf checks small.
    [[gnu::noinline]] search_result search(const regex& re, std::string_view s) {
        if (state_.gave_up == &re && state_.gave_up_at == s.data() &&
            state_.gave_up_size == s.size())
            return search_result::limit;
        std::uint64_t work = 0;
        auto r = re.search(s, state_.limits, work);
        spend((work + 3) / 4);
        if (r == search_result::limit && !state_.gave_up) {
            state_.gave_up = &re;
            state_.gave_up_at = s.data();
            state_.gave_up_size = s.size();
        }
        return r;
    }

    [[gnu::cold, gnu::noinline]] std::string gave_up_message(const regex& re) const {
        return "the pattern /" + re.source() + "/ gave up on this value: it needs more than " +
               std::to_string(state_.limits.match_limit) + " backtracking steps or " +
               std::to_string(state_.limits.depth_limit) +
               " levels (schemas.regex_match_limit / regex_depth_limit)";
    }

    // Path bookkeeping, only while collecting violations.
    struct path_guard {
        evaluator& ev;
        std::string& path;
        std::size_t size;
        path_guard(evaluator& e, std::string& p, std::string_view token)
            : ev(e), path(p), size(p.size()) {
            if (ev.collecting()) append_pointer_token(path, token);
        }
        path_guard(evaluator& e, std::string& p, std::size_t index)
            : ev(e), path(p), size(p.size()) {
            if (ev.collecting()) append_pointer_token(path, std::to_string(index));
        }
        [[gnu::always_inline]] ~path_guard() {
            if (ev.collecting()) path.resize(size);
        }
    };

    bool eval(std::uint32_t id, dom::element inst, annotations* ann) {
        if (!spend(1)) return false;
        const node& n = p_.nodes[id];
        if (n.is_boolean) {
            if (!n.boolean_value)
                if (collecting())
                    report(n.absolute, "no value is allowed here (the schema is false)");
            return n.boolean_value;
        }
        if (depth_ >= p_.options.max_depth) {
            if (collecting())
                report(n.absolute,
                       "evaluation nested deeper than " + std::to_string(p_.options.max_depth) +
                           " levels",
                       "depth_limit");
            return false;
        }
        if (n.is_leaf && !collecting()) return leaf_ok(n.leaf, inst);
        ++depth_;
        // The dynamic scope: every resource evaluation passes through, outermost first.
        bool pushed = scope_.empty() || scope_.back() != n.resource;
        if (pushed) scope_.push(n.resource);
        std::optional<annotations> local;
        if (n.needs_annotations) local.emplace();
        annotations* a = n.needs_annotations ? &*local : ann;
        bool ok = true;
        for (const op& o : n.ops) {
            if (!collecting() && quick_pass(o, inst)) continue;
            if (!eval_op(o, inst, a)) {
                ok = false;
                if (done()) break;
            }
        }
        if (ok && n.needs_annotations && ann) ann->merge(*local);
        if (pushed) scope_.pop();
        --depth_;
        return ok;
    }

    [[gnu::flatten]] bool leaf_ok(const leaf_checks& l, dom::element inst) {
        auto t = inst.type();
        switch (t) {
            case dom::element_type::STRING: {
                if (!(l.types & t_string)) return false;
                if (!l.string_checks && !l.has_enum) return true;
                // The type is known: no checked conversion (which the compiler may
                // leave out of line for its throwing path).
                std::string_view s = inst.get_string().value_unsafe();
                if (s.size() > l.max_length && code_points(s) > l.max_length) return false;
                if (l.min_length > 0 && (s.size() + 3) / 4 < l.min_length &&
                    code_points(s) < l.min_length)
                    return false;
                if (l.format != format_kind::unknown && !check_format(l.format, s)) return false;
                if (l.pattern && search(*l.pattern, s) != search_result::match) return false;
                if (l.has_enum) {
                    for (const auto& e : l.enum_strings)
                        if (same(e, s)) return true;
                    return false;
                }
                return true;
            }
            case dom::element_type::INT64:
            case dom::element_type::UINT64:
            case dom::element_type::DOUBLE: {
                double d = number_value(inst);
                std::uint32_t bits = t == dom::element_type::DOUBLE && !is_integral(d)
                                         ? t_number
                                         : t_number | t_integer;
                if (!(l.types & bits) || l.has_enum) return false;
                long double x = exact_value(inst);
                return !l.number_checks || (x >= l.minimum && x <= l.maximum &&
                                            x > l.exclusive_minimum && x < l.exclusive_maximum);
            }
            default:
                return (type_bits(inst) & l.types) != 0 &&
                       !l.has_enum;  // string/number checks do not apply
        }
    }

    // The cheap keywords, checked inline: true when `o` certainly holds. Anything else
    // (a failure to report, a keyword with children) goes through eval_op.
    [[gnu::always_inline]] static bool quick_pass(const op& o, dom::element inst) {
        switch (o.kind) {
            case op_kind::type:
                return (type_bits(inst) & o.types) != 0;
            case op_kind::format: {
                std::string_view s;
                return inst.get(s) || check_format(o.format, s);
            }
            case op_kind::max_length: {
                std::string_view s;
                return inst.get(s) || s.size() <= o.count;
            }
            case op_kind::min_length: {
                std::string_view s;
                return inst.get(s) || (s.size() + 3) / 4 >= o.count;
            }
            case op_kind::minimum:
                return inst.type() == dom::element_type::INT64 &&
                       static_cast<long double>(std::int64_t(inst)) >= o.number;
            case op_kind::maximum:
                return inst.type() == dom::element_type::INT64 &&
                       static_cast<long double>(std::int64_t(inst)) <= o.number;
            default:
                return false;
        }
    }

    // Evaluates a subschema on the side: its violations and annotations are kept
    // only if the caller decides so.
    struct trial {
        std::vector<violation> errors;
        annotations ann;
        bool ok = false;
    };
    trial attempt(std::uint32_t id, dom::element inst, bool want_annotations) {
        trial t;
        auto* saved = errors_;
        if (errors_) errors_ = &t.errors;
        t.ok = eval(id, inst, want_annotations ? &t.ann : nullptr);
        errors_ = saved;
        return t;
    }
    void keep_errors(const trial& t) {
        if (!errors_) return;
        for (const auto& v : t.errors)
            if (errors_->size() < max_errors_) errors_->push_back(v);
    }

    bool eval_op(const op& o, dom::element inst, annotations* ann) {
        path_guard kw(*this, keyword_path_, o.keyword);
        switch (o.kind) {
            case op_kind::type: {
                if (type_bits(inst) & o.types) return true;
                if (collecting())
                    report(o.absolute,
                           "expected " + names_of(o.types) + ", got " + type_name(inst));
                return false;
            }
            case op_kind::enum_values:
                return eval_enum(o, inst, ann);
            case op_kind::const_value:
                return eval_const(o, inst, ann);
            case op_kind::multiple_of: {
                if (!is_number(inst)) return true;
                bool ok;
                double divisor = static_cast<double>(o.number);
                if (inst.type() == dom::element_type::INT64 && is_integral(divisor) &&
                    divisor < 9.2e18) {
                    ok = std::int64_t(inst) % static_cast<std::int64_t>(divisor) == 0;
                } else if (inst.type() == dom::element_type::UINT64 && is_integral(divisor) &&
                           divisor < 1.8e19) {
                    ok = std::uint64_t(inst) % static_cast<std::uint64_t>(divisor) == 0;
                } else {
                    // A few ulps of the quotient, so 0.0075 is a multiple of 0.0001 but a
                    // large quotient's fraction is not rounded away.
                    double q = number_value(inst) / divisor;
                    ok = std::isfinite(q) &&
                         std::fabs(q - std::round(q)) <=
                             std::max(1e-9,
                                      4 * std::numeric_limits<double>::epsilon() * std::fabs(q));
                }
                if (!ok)
                    if (collecting())
                        report(o.absolute, "expected a multiple of " + show_number(divisor) +
                                               ", got " + show(inst));
                return ok;
            }
            case op_kind::maximum:
            case op_kind::exclusive_maximum:
            case op_kind::minimum:
            case op_kind::exclusive_minimum: {
                if (!is_number(inst)) return true;
                long double x = exact_value(inst);
                bool ok = o.kind == op_kind::maximum             ? x <= o.number
                          : o.kind == op_kind::exclusive_maximum ? x < o.number
                          : o.kind == op_kind::minimum           ? x >= o.number
                                                                 : x > o.number;
                if (!ok) {
                    const char* rel = o.kind == op_kind::maximum             ? "<="
                                      : o.kind == op_kind::exclusive_maximum ? "<"
                                      : o.kind == op_kind::minimum           ? ">="
                                                                             : ">";
                    if (collecting())
                        report(o.absolute, "expected a number " + std::string(rel) + " " +
                                               show_number(static_cast<double>(o.number)) +
                                               ", got " + show(inst));
                }
                return ok;
            }
            case op_kind::max_length:
            case op_kind::min_length: {
                std::string_view s;
                if (inst.get(s)) return true;
                // A string has between bytes/4 and bytes code points: count only when
                // the byte length cannot decide.
                if (o.kind == op_kind::max_length ? s.size() <= o.count
                                                  : (s.size() + 3) / 4 >= o.count)
                    return true;
                auto len = code_points(s);
                bool ok = o.kind == op_kind::max_length ? len <= o.count : len >= o.count;
                if (!ok)
                    if (collecting())
                        report(o.absolute,
                               std::string("expected a string of ") +
                                   (o.kind == op_kind::max_length ? "at most " : "at least ") +
                                   std::to_string(o.count) + " characters, got " +
                                   std::to_string(len));
                return ok;
            }
            case op_kind::pattern: {
                std::string_view s;
                if (inst.get(s)) return true;
                auto r = search(*o.re, s);
                if (r == search_result::match) return true;
                if (collecting()) {
                    if (r == search_result::limit)
                        report(o.absolute, gave_up_message(*o.re), "regex_limit");
                    else
                        report(o.absolute, "expected a string matching /" + o.re->source() +
                                               "/, got " + show(inst));
                }
                return false;
            }
            case op_kind::format: {
                std::string_view s;
                if (inst.get(s)) return true;
                if (check_format(o.format, s)) return true;
                if (collecting())
                    report(o.absolute, "expected a valid " + o.format_name + ", got " + show(inst));
                return false;
            }
            case op_kind::max_items:
            case op_kind::min_items: {
                dom::array arr;
                if (inst.get(arr)) return true;
                auto size = arr.size();
                bool ok = o.kind == op_kind::max_items ? size <= o.count : size >= o.count;
                if (!ok)
                    if (collecting())
                        report(o.absolute,
                               std::string("expected ") +
                                   (o.kind == op_kind::max_items ? "at most " : "at least ") +
                                   std::to_string(o.count) + " items, got " + std::to_string(size));
                return ok;
            }
            case op_kind::unique_items:
                return eval_unique(o, inst, ann);
            case op_kind::contains:
                return eval_contains(o, inst, ann);
            case op_kind::max_properties:
            case op_kind::min_properties: {
                dom::object obj;
                if (inst.get(obj)) return true;
                auto size = obj.size();
                bool ok = o.kind == op_kind::max_properties ? size <= o.count : size >= o.count;
                if (!ok)
                    if (collecting())
                        report(o.absolute,
                               std::string("expected ") +
                                   (o.kind == op_kind::max_properties ? "at most " : "at least ") +
                                   std::to_string(o.count) + " properties, got " +
                                   std::to_string(size));
                return ok;
            }
            case op_kind::required: {
                dom::object obj;
                if (inst.get(obj)) return true;
                bool ok = true;
                for (const auto& name : o.names) {
                    dom::element v;
                    if (obj.at_key(name).get(v)) {
                        if (collecting())
                            report(o.absolute, "missing required property '" + name + "'");
                        ok = false;
                        if (done()) return false;
                    }
                }
                return ok;
            }
            case op_kind::dependent_required:
                return eval_dependent_required(o, inst, ann);
            case op_kind::properties:
                return eval_properties(o, inst, ann);
            case op_kind::property_names:
                return eval_property_names(o, inst, ann);
            case op_kind::dependent_schemas:
                return eval_dependent_schemas(o, inst, ann);
            case op_kind::items:
                return eval_items(o, inst, ann);
            case op_kind::unevaluated_items:
                return eval_unevaluated_items(o, inst, ann);
            case op_kind::unevaluated_properties:
                return eval_unevaluated_properties(o, inst, ann);
            case op_kind::ref:
                return eval(o.a, inst, ann);
            case op_kind::dynamic_ref: {
                std::uint32_t target = o.a;
                if (!o.anchor.empty()) {
                    for (std::size_t i = 0; i < scope_.size(); ++i) {
                        const auto& anchors = p_.resources[scope_[i]].dynamic_anchors;
                        if (auto it = anchors.find(o.anchor); it != anchors.end()) {
                            target = it->second;
                            break;
                        }
                    }
                }
                return eval(target, inst, ann);
            }
            case op_kind::all_of: {
                bool ok = true;
                std::size_t i = 0;
                for (auto c : o.list) {
                    path_guard kp(*this, keyword_path_, i++);
                    if (!eval(c, inst, ann)) {
                        ok = false;
                        if (done()) return false;
                    }
                }
                return ok;
            }
            case op_kind::any_of:
                return eval_any_of(o, inst, ann);
            case op_kind::one_of:
                return eval_one_of(o, inst, ann);
            case op_kind::not_schema:
                return eval_not(o, inst, ann);
            case op_kind::if_then_else:
                return eval_if(o, inst, ann);
        }
        return true;
    }

    [[gnu::noinline]] bool eval_contains(const op& o, dom::element inst,
                                         [[maybe_unused]] annotations* ann) {
        dom::array arr;
        if (inst.get(arr)) return true;
        std::uint64_t matches = 0;
        std::size_t i = 0;
        bool need_all = ann != nullptr || o.count_max != std::numeric_limits<std::uint64_t>::max();
        for (auto item : arr) {
            auto t = attempt(o.a, item, false);
            if (t.ok) {
                ++matches;
                if (ann) ann->mark_item(i);
                if (!need_all && matches >= o.count) return true;
            }
            ++i;
        }
        if (matches < o.count) {
            if (collecting())
                report(o.absolute, "expected at least " + std::to_string(o.count) +
                                       " items matching the `contains` schema, got " +
                                       std::to_string(matches));
            return false;
        }
        if (matches > o.count_max) {
            if (collecting())
                report(o.absolute, "expected at most " + std::to_string(o.count_max) +
                                       " items matching the `contains` schema, got " +
                                       std::to_string(matches));
            return false;
        }
        return true;
    }

    // uniqueItems by hashing: every item hashed once (equal values hash alike, see
    // json_hash) into a table, and an item compared only with those of its hash, so n
    // items cost O(n) steps rather than n² comparisons. Distinct values that collide
    // cost a step per comparison, so crafted collisions run out of budget rather than
    // time. Reports the first item equal to an earlier one.
    [[gnu::noinline]] bool eval_unique(const op& o, dom::element inst,
                                       [[maybe_unused]] annotations* ann) {
        dom::array arr;
        if (inst.get(arr)) return true;
        std::size_t size = arr.size();
        if (size < 2) return true;
        std::size_t first = 0, second = 0;
        bool duplicate = false;
        if (size <= 8) {  // a few comparisons beat hashing
            if (!spend(size)) return false;
            std::size_t i = 0;
            for (auto a : arr) {
                std::size_t j = 0;
                for (auto b : arr) {
                    if (j > i && equal(a, b)) {
                        duplicate = true, first = i, second = j;
                        break;
                    }
                    ++j;
                }
                if (duplicate) break;
                ++i;
            }
        } else {
            // Open addressing, at most half full: a slot holds an item's hash and its
            // index + 1 (0: empty). Every probe is a step, so names crafted to crowd
            // one region of the table cost budget, not time.
            thread_local std::vector<std::uint64_t> slot_hash;
            thread_local std::vector<std::uint32_t> slot_item;
            thread_local std::vector<dom::element> items;
            std::size_t capacity = 16;
            while (capacity < 2 * size) capacity *= 2;
            slot_hash.assign(capacity, 0);
            slot_item.assign(capacity, 0);
            items.clear();
            const std::size_t mask = capacity - 1;
            std::uint64_t work = 0;
            for (auto item : arr) {
                std::uint64_t h = json_hash(item, work);
                auto index = static_cast<std::uint32_t>(items.size());
                items.push_back(item);
                std::size_t at = h & mask;
                for (; slot_item[at] != 0; at = (at + 1) & mask) {
                    ++work;
                    if (slot_hash[at] == h && equal(items[slot_item[at] - 1], item)) {
                        duplicate = true, first = slot_item[at] - 1, second = index;
                        break;
                    }
                }
                if (duplicate) break;
                slot_hash[at] = h;
                slot_item[at] = index + 1;
            }
            if (!spend(work)) return false;
        }
        if (!duplicate) return true;
        if (collecting())
            report(o.absolute, "expected unique items, but items " + std::to_string(first) +
                                   " and " + std::to_string(second) + " are equal");
        return false;
    }

    [[gnu::noinline]] bool eval_property_names(const op& o, dom::element inst,
                                               [[maybe_unused]] annotations* ann) {
        dom::object obj;
        if (inst.get(obj)) return true;
        bool ok = true;
        for (auto f : obj) {
            // The name as a JSON string instance of its own.
            thread_local dom::parser name_parser;
            std::string quoted = "\"";
            for (char c : f.key) {
                auto u = static_cast<unsigned char>(c);
                if (c == '"' || c == '\\') {
                    quoted += '\\';
                    quoted += c;
                } else if (u < 0x20) {
                    static constexpr char hex[] = "0123456789abcdef";
                    quoted += "\\u00";
                    quoted += hex[u >> 4];
                    quoted += hex[u & 0xf];
                } else {
                    quoted += c;
                }
            }
            quoted += '"';
            dom::element name;
            if (name_parser.parse(quoted).get(name)) {
                if (collecting()) report(o.absolute, "property name could not be checked");
                return false;
            }
            path_guard ip(*this, instance_path_, f.key);
            if (!eval(o.a, name, nullptr)) {
                ok = false;
                if (done()) return false;
            }
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_unevaluated_items(const op& o, dom::element inst,
                                                  annotations* ann) {
        dom::array arr;
        if (inst.get(arr) || !ann) return true;
        bool ok = true;
        std::size_t i = 0;
        for (auto item : arr) {
            if (!ann->has_item(i)) {
                path_guard ip(*this, instance_path_, i);
                if (!eval(o.a, item, nullptr)) {
                    ok = false;
                    if (done()) return false;
                }
                ann->mark_item(i);
            }
            ++i;
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_unevaluated_properties(const op& o, dom::element inst,
                                                       annotations* ann) {
        dom::object obj;
        if (inst.get(obj) || !ann) return true;
        bool ok = true;
        std::size_t known = ann->properties.size();
        for (auto f : obj) {
            if (!spend(1 + known / 8)) return false;  // the search below is linear
            if (std::find(ann->properties.begin(),
                          ann->properties.begin() + static_cast<std::ptrdiff_t>(known),
                          f.key) != ann->properties.begin() + static_cast<std::ptrdiff_t>(known))
                continue;
            path_guard ip(*this, instance_path_, f.key);
            std::size_t before = errors_ ? errors_->size() : 0;
            if (!eval(o.a, f.value, nullptr)) {
                if (p_.nodes[o.a].is_boolean && collecting() && errors_->size() > before)
                    errors_->back().message =
                        "property '" + std::string(f.key) + "' is not allowed";
                ok = false;
                if (done()) return false;
            }
            ann->mark_property(f.key);
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_any_of(const op& o, dom::element inst,
                                       [[maybe_unused]] annotations* ann) {
        bool ok = false;
        std::vector<violation> failures;
        std::size_t i = 0;
        for (auto c : o.list) {
            path_guard kp(*this, keyword_path_, i++);
            auto t = attempt(c, inst, ann != nullptr);
            if (t.ok) {
                ok = true;
                if (ann)
                    ann->merge(t.ann);
                else
                    break;
            } else if (collecting()) {
                failures.insert(failures.end(), t.errors.begin(), t.errors.end());
            }
        }
        if (!ok) {
            if (collecting())
                report(o.absolute, "expected a value matching at least one schema of anyOf");
            keep_errors(trial{std::move(failures), {}, false});
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_one_of(const op& o, dom::element inst,
                                       [[maybe_unused]] annotations* ann) {
        std::size_t passed = 0;
        annotations winner;
        std::vector<violation> failures;
        std::size_t i = 0;
        for (auto c : o.list) {
            path_guard kp(*this, keyword_path_, i++);
            auto t = attempt(c, inst, ann != nullptr);
            if (t.ok) {
                if (++passed > 1) break;
                winner = std::move(t.ann);
            } else if (collecting()) {
                failures.insert(failures.end(), t.errors.begin(), t.errors.end());
            }
        }
        if (passed == 1) {
            if (ann) ann->merge(winner);
            return true;
        }
        if (passed == 0) {
            if (collecting())
                report(o.absolute,
                       "expected a value matching exactly one schema of oneOf, but it matches "
                       "none");
            keep_errors(trial{std::move(failures), {}, false});
        } else {
            if (collecting())
                report(o.absolute,
                       "expected a value matching exactly one schema of oneOf, but it matches "
                       "several");
        }
        return false;
    }

    [[gnu::noinline]] bool eval_not(const op& o, dom::element inst,
                                    [[maybe_unused]] annotations* ann) {
        auto t = attempt(o.a, inst, false);
        if (!t.ok) return true;
        if (collecting())
            report(o.absolute,
                   "expected a value that does not match the `not` schema, got " + show(inst));
        return false;
    }

    [[gnu::noinline]] bool eval_if(const op& o, dom::element inst,
                                   [[maybe_unused]] annotations* ann) {
        bool cond;
        {
            auto t = attempt(o.a, inst, ann != nullptr);
            cond = t.ok;
            if (cond && ann) ann->merge(t.ann);
        }
        std::uint32_t branch = cond ? o.b : o.c;
        if (branch == no_node) return true;
        if (collecting()) {  // the guard of "if" restores the path afterwards
            keyword_path_.resize(keyword_path_.rfind('/'));
            append_pointer_token(keyword_path_, cond ? "then" : "else");
        }
        return eval(branch, inst, ann);
    }

    [[gnu::noinline]] bool eval_dependent_schemas(const op& o, dom::element inst,
                                                  annotations* ann) {
        dom::object obj;
        if (inst.get(obj)) return true;
        bool ok = true;
        for (const auto& [trigger, child] : o.named) {
            dom::element v;
            if (obj.at_key(trigger).get(v)) continue;
            path_guard kp(*this, keyword_path_, trigger);
            if (!eval(child, inst, ann)) {
                ok = false;
                if (done()) return false;
            }
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_dependent_required(const op& o, dom::element inst,
                                                   [[maybe_unused]] annotations* ann) {
        dom::object obj;
        if (inst.get(obj)) return true;
        bool ok = true;
        for (const auto& [trigger, names] : o.dependencies) {
            dom::element v;
            if (obj.at_key(trigger).get(v)) continue;
            for (const auto& name : names) {
                if (!obj.at_key(name).get(v)) continue;
                if (collecting())
                    report(o.absolute,
                           "property '" + name + "' is required when '" + trigger + "' is present");
                ok = false;
                if (done()) return false;
            }
        }
        return ok;
    }

    [[gnu::noinline]] bool eval_enum(const op& o, dom::element inst,
                                     [[maybe_unused]] annotations* ann) {
        for (auto candidate : dom::array(o.value))
            if (equal(inst, candidate)) return true;
        if (collecting())
            report(o.absolute, "expected one of " + show(o.value) + ", got " + show(inst));
        return false;
    }

    [[gnu::noinline]] bool eval_const(const op& o, dom::element inst,
                                      [[maybe_unused]] annotations* ann) {
        if (equal(inst, o.value)) return true;
        if (collecting()) report(o.absolute, "expected " + show(o.value) + ", got " + show(inst));
        return false;
    }

    // A subschema on the success path: leaves without the generic prologue. The
    // caller has paid the step of a leaf (a container pays for all its members at
    // once); anything else pays in eval().
    [[gnu::always_inline]] bool check(std::uint32_t id, dom::element v) {
        const node& n = p_.nodes[id];
        return n.is_leaf ? leaf_ok(n.leaf, v) : eval(id, v, nullptr);
    }

    // properties / patternProperties / additionalProperties / folded required, when
    // neither violations nor annotations are wanted: one tight pass.
    bool properties_fast(const op& o, dom::object obj) {
        if (!spend(obj.size() * (1 + o.patterns.size()))) return false;
        std::uint64_t found = 0;
        std::size_t hint = 0;  // instances usually list properties in the schema's order
        const std::size_t declared = o.named.size();
        for (auto f : obj) {
            std::size_t index = declared;
            if (hint < declared && same(o.named[hint].first, f.key)) {
                index = hint;
            } else {
                for (std::size_t i = 0; i < declared; ++i)
                    if (same(o.named[i].first, f.key)) {
                        index = i;
                        break;
                    }
            }
            bool matched = index < declared;
            if (matched) {
                hint = index + 1;
                if (!o.required_mask.empty()) found |= o.required_mask[index];
                if (!check(o.named[index].second, f.value)) return false;
            }
            for (const auto& [re, child] : o.patterns) {
                auto r = search(*re, f.key);
                if (r == search_result::no_match) continue;
                if (r == search_result::limit) return false;  // undecided fails closed
                matched = true;
                if (!check(child, f.value)) return false;
            }
            if (!matched && o.a != no_node && !check(o.a, f.value)) return false;
        }
        return found == o.required_all;
    }

    bool eval_properties(const op& o, dom::element inst, annotations* ann) {
        dom::object obj;
        if (inst.get(obj)) return true;
        if (!collecting() && !ann) return properties_fast(o, obj);
        bool ok = true;
        std::string saved_kw;
        if (collecting()) saved_kw = keyword_path_.substr(0, keyword_path_.rfind('/'));
        std::uint64_t found = 0;
        std::size_t hint = 0;  // instances usually list properties in the schema's order
        const std::size_t declared = o.named.size();
        for (auto f : obj) {
            bool matched = false;
            std::size_t index = declared;
            if (hint < declared && same(o.named[hint].first, f.key)) {
                index = hint;
            } else {
                for (std::size_t i = 0; i < declared; ++i)
                    if (same(o.named[i].first, f.key)) {
                        index = i;
                        break;
                    }
            }
            if (index < declared) {
                hint = index + 1;
                matched = true;
                const auto& [name, child] = o.named[index];
                if (!o.required_mask.empty()) found |= o.required_mask[index];
                if (collecting()) {
                    keyword_path_ = saved_kw;
                    append_pointer_token(keyword_path_, "properties");
                    append_pointer_token(keyword_path_, name);
                }
                path_guard ip(*this, instance_path_, f.key);
                if (!eval(child, f.value, nullptr)) {
                    ok = false;
                    if (done()) return false;
                }
            }
            for (const auto& [re, child] : o.patterns) {
                auto r = search(*re, f.key);
                if (r == search_result::no_match) continue;
                matched = true;
                if (collecting()) {
                    keyword_path_ = saved_kw;
                    append_pointer_token(keyword_path_, "patternProperties");
                    append_pointer_token(keyword_path_, re->source());
                }
                path_guard ip(*this, instance_path_, f.key);
                if (r == search_result::limit) {  // undecided fails closed
                    if (collecting()) {
                        // o.absolute ends in "/properties": the keyword the op is named by.
                        std::string absolute = o.absolute.substr(0, o.absolute.rfind('/'));
                        append_pointer_token(absolute, "patternProperties");
                        append_pointer_token(absolute, re->source());
                        report(absolute, gave_up_message(*re), "regex_limit");
                    }
                    ok = false;
                    if (done()) return false;
                    continue;
                }
                if (!eval(child, f.value, nullptr)) {
                    ok = false;
                    if (done()) return false;
                }
            }
            if (!matched && o.a != no_node) {
                matched = true;
                if (collecting()) {
                    keyword_path_ = saved_kw;
                    append_pointer_token(keyword_path_, "additionalProperties");
                }
                path_guard ip(*this, instance_path_, f.key);
                std::size_t before = errors_ ? errors_->size() : 0;
                if (!eval(o.a, f.value, nullptr)) {
                    if (p_.nodes[o.a].is_boolean && collecting() && errors_->size() > before)
                        errors_->back().message =
                            "property '" + std::string(f.key) + "' is not allowed";
                    ok = false;
                    if (done()) return false;
                }
            }
            if (matched && ann) ann->mark_property(f.key);
        }
        if (found != o.required_all) {
            ok = false;
            if (collecting()) {
                keyword_path_ = saved_kw;
                append_pointer_token(keyword_path_, "required");
                for (std::size_t r = 0; r < o.names.size(); ++r)
                    if (!(found & (1ull << r)))
                        if (collecting())
                            report(o.required_absolute,
                                   "missing required property '" + o.names[r] + "'");
            }
        }
        if (collecting()) {
            keyword_path_ = saved_kw;
            append_pointer_token(keyword_path_, "properties");
        }
        return ok;
    }

    bool eval_items(const op& o, dom::element inst, annotations* ann) {
        dom::array arr;
        if (inst.get(arr)) return true;
        if (!collecting() && !ann) {
            if (!spend(arr.size())) return false;
            std::size_t i = 0;
            for (auto item : arr) {
                std::uint32_t child = i < o.list.size() ? o.list[i] : o.a;
                if (child == no_node) break;
                if (!check(child, item)) return false;
                ++i;
            }
            return true;
        }
        bool ok = true;
        std::size_t i = 0;
        std::string saved_kw;
        if (collecting()) saved_kw = keyword_path_.substr(0, keyword_path_.rfind('/'));
        for (auto item : arr) {
            std::uint32_t child = i < o.list.size() ? o.list[i] : o.a;
            if (child == no_node) break;
            if (collecting()) {
                keyword_path_ = saved_kw;
                if (i < o.list.size()) {
                    append_pointer_token(keyword_path_,
                                         o.names.size() == 2 ? o.names[0] : "prefixItems");
                    append_pointer_token(keyword_path_, std::to_string(i));
                } else {
                    append_pointer_token(keyword_path_, o.names.size() == 2 ? o.names[1] : "items");
                }
            }
            path_guard ip(*this, instance_path_, i);
            if (!eval(child, item, nullptr)) {
                ok = false;
                if (done()) return false;
            }
            if (ann) ann->mark_item(i);
            ++i;
        }
        if (collecting()) {
            keyword_path_ = saved_kw;
            append_pointer_token(keyword_path_, "items");
        }
        return ok;
    }

    const validator::program& p_;
    std::vector<violation>* errors_;
    std::size_t max_errors_;
    pass_state& state_;
    std::uint64_t steps_left_;  // state_.steps_left while this pass runs
    scope_stack scope_;
    std::size_t depth_ = 0;
    std::string instance_path_;
    std::string keyword_path_;
};

}  // namespace

validator::validator(std::unique_ptr<program> p) : program_(std::move(p)) {}
validator::~validator() = default;

evaluation_result validator::evaluate(dom::element instance, evaluation_budget& budget,
                                      const evaluation_limits& limits,
                                      std::size_t max_violations) const {
    evaluation_result out;
    pass_state state;
    state.limits = {limits.regex_match_limit, limits.regex_depth_limit};
    state.steps_left = budget.steps_left;
    {
        evaluator ev(*program_, nullptr, 0, state);
        out.valid = ev.run(instance);
    }
    if (!out.valid) {
        if (state.exhausted) {
            // Undecided: say so rather than guess. Nothing is walked again.
            out.budget_exhausted = true;
            out.violations.push_back(
                {"", "", program_->nodes[program_->root].absolute,
                 "evaluation stopped after " + std::to_string(limits.max_steps) +
                     " steps (schemas.max_evaluation_steps) before the value was decided",
                 "evaluation_budget"});
        } else if (max_violations > 0) {
            // One more than the cap, to know whether there were more.
            std::optional<violation> gave_up;
            state.gave_up_violation = &gave_up;
            {
                evaluator ev(*program_, &out.violations, max_violations + 1, state);
                ev.run(instance);
            }
            if (out.violations.size() > max_violations || state.exhausted) out.truncated = true;
            if (out.violations.size() > max_violations) out.violations.resize(max_violations);
            // A pattern that gave up where violations are not kept (under `not`, in a
            // branch): still the reason, and said.
            if (gave_up &&
                std::none_of(out.violations.begin(), out.violations.end(),
                             [](const violation& v) { return v.code == "regex_limit"; })) {
                if (out.violations.size() == max_violations) {
                    out.violations.pop_back();
                    out.truncated = true;
                }
                out.violations.push_back(std::move(*gave_up));
            }
        } else {
            out.truncated = true;
        }
    }
    budget.steps_left = state.steps_left;
    return out;
}

bool validator::validate(dom::element instance) const {
    evaluation_budget unlimited;
    pass_state state;
    state.steps_left = unlimited.steps_left;
    evaluator ev(*program_, nullptr, 0, state);
    return ev.run(instance);
}

std::vector<violation> validator::explain(dom::element instance, std::size_t max) const {
    evaluation_budget unlimited;
    return evaluate(instance, unlimited, {}, max).violations;
}

}  // namespace sluice::schema
