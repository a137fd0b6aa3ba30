#include "registry/compatibility.hpp"

#include "schema/json_types.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

namespace sluice::registry {
namespace {

namespace dom = simdjson::dom;
using outcome = verdict::outcome;
using namespace schema;  // type_bit, type_bits

// Keywords that never restrict instances.
bool is_annotation(std::string_view k) {
    static constexpr std::string_view names[] = {
        "$schema",         "$id",          "$comment",   "title",          "description",
        "examples",        "default",      "deprecated", "readOnly",       "writeOnly",
        "$defs",           "definitions",  "$anchor",    "$dynamicAnchor", "contentMediaType",
        "contentEncoding", "contentSchema"};
    return std::find(std::begin(names), std::end(names), k) != std::end(names);
}

// Keywords the checker reasons about when they restrict the wider schema.
bool is_handled(std::string_view k) {
    static constexpr std::string_view names[] = {"type",
                                                 "properties",
                                                 "required",
                                                 "additionalProperties",
                                                 "enum",
                                                 "const",
                                                 "minimum",
                                                 "maximum",
                                                 "exclusiveMinimum",
                                                 "exclusiveMaximum",
                                                 "minLength",
                                                 "maxLength",
                                                 "pattern",
                                                 "format",
                                                 "items",
                                                 "minItems",
                                                 "maxItems",
                                                 "uniqueItems",
                                                 "multipleOf",
                                                 "$ref"};
    return std::find(std::begin(names), std::end(names), k) != std::end(names);
}

// The set of instances a `type` name admits, as type bits: "number" admits integers
// too (unlike the evaluator's per-keyword test, this is a set to compare by inclusion).
unsigned type_bit_of(std::string_view name) {
    if (name == "null") return t_null;
    if (name == "boolean") return t_boolean;
    if (name == "object") return t_object;
    if (name == "array") return t_array;
    if (name == "number") return t_number | t_integer;
    if (name == "string") return t_string;
    if (name == "integer") return t_integer;
    return 0;
}

bool json_equal(dom::element a, dom::element b) {
    return simdjson::minify(a) == simdjson::minify(b);
}

std::string where(const std::string& path) {
    return path.empty() ? "the event" : "`" + path + "`";
}

std::string join(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : path + "." + std::string(name);
}

class checker {
  public:
    checker(dom::element narrow_root, std::string_view narrow, dom::element wide_root,
            std::string_view wide)
        : narrow_root_(narrow_root), wide_root_(wide_root), n_(narrow), w_(wide) {}

    verdict check(dom::element a, dom::element b, const std::string& path, int depth) {
        if (depth > 64) return unprovable("schemas nested deeper than 64 levels at " + where(path));
        if (!resolve(a, narrow_root_) || !resolve(b, wide_root_))
            return unprovable("a $ref that is not local (#/...) at " + where(path));
        if (b.is_bool()) {
            if (bool(b)) return {};
            if (a.is_bool() && !bool(a)) return {};
            return broken(where(path) + " is forbidden by " + w_ + " but allowed by " + n_);
        }
        if (a.is_bool()) {
            if (!bool(a)) return {};
            a = empty_object();
        }
        dom::object wo(b), no(a);
        for (auto f : wo) {
            if (is_annotation(f.key)) continue;
            if (!is_handled(f.key))
                return unprovable("cannot prove compatibility for `" + std::string(f.key) +
                                  "` in " + w_ + " at " + where(path));
        }
        if (no["patternProperties"].error() == simdjson::SUCCESS)
            return unprovable("cannot prove compatibility for `patternProperties` in " + n_ +
                              " at " + where(path));

        unsigned a_types = types_of(no), b_types = types_of(wo);
        if (a_types & ~b_types) {
            return broken(where(path) + " accepts " + type_names(a_types & ~b_types) + " under " +
                          n_ + " but not under " + w_);
        }
        if (auto v = values(no, wo, path); v.result != outcome::proven) return v;
        if (a_types & (t_number | t_integer))
            if (auto v = numbers(no, wo, path); v.result != outcome::proven) return v;
        if (a_types & t_string)
            if (auto v = strings(no, wo, path); v.result != outcome::proven) return v;
        if (a_types & t_array)
            if (auto v = arrays(no, wo, path, depth); v.result != outcome::proven) return v;
        if (a_types & t_object)
            if (auto v = objects(no, wo, path, depth); v.result != outcome::proven) return v;
        return {};
    }

  private:
    verdict broken(std::string why) { return {outcome::broken, std::move(why)}; }
    verdict unprovable(std::string why) { return {outcome::unprovable, std::move(why)}; }

    static dom::element empty_object() {
        static dom::parser p;
        static dom::element e = p.parse(std::string_view("{}")).value();
        return e;
    }

    // Follows local $refs (only when $ref is the whole schema's constraint source:
    // siblings in 2020-12 also apply, which we then check too).
    static bool resolve(dom::element& s, dom::element root) {
        for (int hops = 0; hops < 32; ++hops) {
            std::string_view ref;
            if (!s.is_object() || dom::object(s)["$ref"].get(ref)) return true;
            if (!ref.starts_with('#')) return false;
            dom::object obj(s);
            if (obj.size() > 1) {
                // $ref with siblings: treated as the referenced schema only when the
                // siblings are annotations.
                for (auto f : obj)
                    if (f.key != "$ref" && !is_annotation(f.key)) return false;
            }
            auto target = root.at_pointer(ref.substr(1));
            if (target.error()) return false;
            s = target.value();
        }
        return false;
    }

    static unsigned types_of(dom::object s) {
        unsigned t = all_types;
        dom::element type;
        if (!s["type"].get(type)) {
            t = 0;
            if (type.is_string())
                t = type_bit_of(std::string_view(type));
            else
                for (auto x : dom::array(type)) t |= type_bit_of(std::string_view(x));
        }
        dom::element list;
        if (!s["enum"].get(list) && list.is_array()) {
            unsigned e = 0;
            for (auto v : dom::array(list)) e |= schema::type_bits(v);
            t &= e;
        }
        dom::element c;
        if (!s["const"].get(c)) t &= schema::type_bits(c);
        return t;
    }

    static std::string type_names(unsigned t) {
        std::string out;
        auto add = [&](unsigned bit, const char* name) {
            if (t & bit) out += out.empty() ? std::string(name) : std::string(", ") + name;
        };
        add(t_null, "null");
        add(t_boolean, "booleans");
        add(t_object, "objects");
        add(t_array, "arrays");
        add(t_string, "strings");
        if (t & t_number)
            add(t_number, "numbers");
        else
            add(t_integer, "integers");
        return out;
    }

    // enum / const: the narrow schema's values must all be allowed by the wide one.
    verdict values(dom::object a, dom::object b, const std::string& path) {
        std::vector<dom::element> allowed;
        bool wide_limits = false;
        dom::element list, c;
        if (!b["enum"].get(list)) {
            wide_limits = true;
            for (auto v : dom::array(list)) allowed.push_back(v);
        }
        if (!b["const"].get(c)) {
            if (wide_limits) {
                std::vector<dom::element> both;
                for (auto v : allowed)
                    if (json_equal(v, c)) both.push_back(v);
                allowed = both;
            } else {
                allowed = {c};
            }
            wide_limits = true;
        }
        if (!wide_limits) return {};
        std::vector<dom::element> mine;
        bool narrow_limits = false;
        if (!a["enum"].get(list)) {
            narrow_limits = true;
            for (auto v : dom::array(list)) mine.push_back(v);
        }
        if (!a["const"].get(c)) {
            narrow_limits = true;
            mine = {c};
        }
        if (!narrow_limits)
            return broken(where(path) + " is limited to listed values by " + w_ + " but not by " +
                          n_);
        for (auto v : mine) {
            bool ok = std::any_of(allowed.begin(), allowed.end(),
                                  [&](dom::element x) { return json_equal(v, x); });
            if (!ok)
                return broken(where(path) + " may be " + simdjson::minify(v) + " under " + n_ +
                              " but not under " + w_);
        }
        return {};
    }

    static std::optional<double> number(dom::object s, std::string_view key) {
        dom::element v;
        if (s[key].get(v)) return std::nullopt;
        if (v.is_int64() || v.is_uint64() || v.is_double()) return double(v);
        return std::nullopt;
    }

    verdict numbers(dom::object a, dom::object b, const std::string& path) {
        // Lower bound: the narrow schema's lowest allowed value must be allowed by the wide one.
        auto a_min = number(a, "minimum"), a_xmin = number(a, "exclusiveMinimum");
        auto b_min = number(b, "minimum"), b_xmin = number(b, "exclusiveMinimum");
        auto a_max = number(a, "maximum"), a_xmax = number(a, "exclusiveMaximum");
        auto b_max = number(b, "maximum"), b_xmax = number(b, "exclusiveMaximum");
        auto lower_ok = [&](std::optional<double> bound, bool exclusive) {
            if (!bound) return true;
            // Narrow's lower bound, strongest of its two.
            bool have = a_min || a_xmin;
            if (!have) return false;
            double lo = a_min ? *a_min : -std::numeric_limits<double>::infinity();
            bool lo_excl = false;
            if (a_xmin && *a_xmin >= lo) lo = *a_xmin, lo_excl = true;
            return exclusive ? (lo > *bound || (lo == *bound && lo_excl)) : lo >= *bound;
        };
        auto upper_ok = [&](std::optional<double> bound, bool exclusive) {
            if (!bound) return true;
            bool have = a_max || a_xmax;
            if (!have) return false;
            double hi = a_max ? *a_max : std::numeric_limits<double>::infinity();
            bool hi_excl = false;
            if (a_xmax && *a_xmax <= hi) hi = *a_xmax, hi_excl = true;
            return exclusive ? (hi < *bound || (hi == *bound && hi_excl)) : hi <= *bound;
        };
        if (!lower_ok(b_min, false) || !lower_ok(b_xmin, true))
            return broken(where(path) + " has a higher minimum under " + w_ + " than under " + n_);
        if (!upper_ok(b_max, false) || !upper_ok(b_xmax, true))
            return broken(where(path) + " has a lower maximum under " + w_ + " than under " + n_);
        if (auto m = number(b, "multipleOf")) {
            auto mine = number(a, "multipleOf");
            double q = mine ? *mine / *m : 0.5;
            if (!mine || std::fabs(q - std::round(q)) > 1e-9)
                return broken(where(path) + " must be a multiple of " +
                              simdjson::minify(b["multipleOf"].value()) + " under " + w_ +
                              " but not under " + n_);
        }
        return {};
    }

    verdict strings(dom::object a, dom::object b, const std::string& path) {
        auto b_min = number(b, "minLength"), b_max = number(b, "maxLength");
        auto a_min = number(a, "minLength"), a_max = number(a, "maxLength");
        if (b_min && (!a_min || *a_min < *b_min))
            return broken(where(path) + " must be at least " +
                          simdjson::minify(b["minLength"].value()) + " characters under " + w_ +
                          " but may be shorter under " + n_);
        if (b_max && (!a_max || *a_max > *b_max))
            return broken(where(path) + " may be at most " +
                          simdjson::minify(b["maxLength"].value()) + " characters under " + w_ +
                          " but longer under " + n_);
        std::string_view bp, ap;
        if (!b["pattern"].get(bp) && (a["pattern"].get(ap) || ap != bp))
            return unprovable("cannot prove that strings allowed at " + where(path) + " by " + n_ +
                              " match the pattern /" + std::string(bp) + "/ of " + w_);
        std::string_view bf, af;
        if (!b["format"].get(bf) && (a["format"].get(af) || af != bf))
            return broken(where(path) + " must be a valid " + std::string(bf) + " under " + w_ +
                          " but not under " + n_);
        return {};
    }

    verdict arrays(dom::object a, dom::object b, const std::string& path, int depth) {
        auto b_min = number(b, "minItems"), b_max = number(b, "maxItems");
        auto a_min = number(a, "minItems"), a_max = number(a, "maxItems");
        if (b_min && (!a_min || *a_min < *b_min))
            return broken(where(path) + " needs more items under " + w_ + " than under " + n_);
        if (b_max && (!a_max || *a_max > *b_max))
            return broken(where(path) + " allows fewer items under " + w_ + " than under " + n_);
        bool b_unique = false, a_unique = false;
        if (b["uniqueItems"].get(b_unique)) b_unique = false;
        if (a["uniqueItems"].get(a_unique)) a_unique = false;
        if (b_unique && !a_unique)
            return broken(where(path) + " needs unique items under " + w_ + " but not under " + n_);
        if (a["prefixItems"].error() == simdjson::SUCCESS)
            return unprovable("cannot prove compatibility for `prefixItems` in " + n_ + " at " +
                              where(path));
        dom::element bi, ai;
        if (b["items"].get(bi)) return {};
        if (bi.is_array() || (!a["items"].get(ai) && ai.is_array()))
            return unprovable("cannot prove compatibility for array-form `items` at " +
                              where(path));
        if (a["items"].get(ai)) ai = empty_object();
        return check(ai, bi, path + "[]", depth + 1);
    }

    verdict objects(dom::object a, dom::object b, const std::string& path, int depth) {
        std::set<std::string_view> a_required, b_required;
        dom::array req;
        if (!a["required"].get(req))
            for (auto r : req) a_required.insert(std::string_view(r));
        if (!b["required"].get(req))
            for (auto r : req) b_required.insert(std::string_view(r));
        for (auto r : b_required)
            if (!a_required.count(r))
                return broken("`" + join(path, r) + "` is required by " + w_ + " but not by " + n_ +
                              ": events valid under " + n_ + " would be rejected");

        dom::object a_props, b_props;
        bool a_has_props = !a["properties"].get(a_props),
             b_has_props = !b["properties"].get(b_props);
        dom::element a_extra, b_extra;
        bool a_has_extra = !a["additionalProperties"].get(a_extra);
        bool b_has_extra = !b["additionalProperties"].get(b_extra);
        if (!a_has_extra) a_extra = true_schema();
        if (!b_has_extra) b_extra = true_schema();

        auto narrow_for = [&](std::string_view name) -> dom::element {
            dom::element s;
            if (a_has_props && !a_props[name].get(s)) return s;
            return a_extra;
        };
        auto wide_for = [&](std::string_view name) -> dom::element {
            dom::element s;
            if (b_has_props && !b_props[name].get(s)) return s;
            return b_extra;
        };
        // Every property either schema names: its narrow schema within its wide one.
        std::set<std::string_view> names;
        if (a_has_props)
            for (auto f : a_props) names.insert(f.key);
        if (b_has_props)
            for (auto f : b_props) names.insert(f.key);
        for (auto name : names)
            if (auto v = check(narrow_for(name), wide_for(name), join(path, name), depth + 1);
                v.result != outcome::proven)
                return v;
        // Properties neither names: the narrow schema's additional within the wide one's.
        if (auto v = check(a_extra, b_extra, join(path, "(other properties)"), depth + 1);
            v.result != outcome::proven) {
            if (v.result == outcome::broken)
                v.reason = where(path) + " may have properties under " + n_ + " that " + w_ +
                           " does not allow";
            return v;
        }
        return {};
    }

    static dom::element true_schema() {
        static dom::parser p;
        static dom::element e = p.parse(std::string_view("true")).value();
        return e;
    }

    dom::element narrow_root_, wide_root_;
    std::string n_, w_;
};

}  // namespace

bool parse_compatibility(std::string_view text, compatibility& out) {
    static constexpr std::pair<std::string_view, compatibility> names[] = {
        {"none", compatibility::none},
        {"backward", compatibility::backward},
        {"forward", compatibility::forward},
        {"full", compatibility::full},
        {"backward_transitive", compatibility::backward_transitive},
        {"forward_transitive", compatibility::forward_transitive},
        {"full_transitive", compatibility::full_transitive}};
    for (auto [name, value] : names)
        if (text == name) {
            out = value;
            return true;
        }
    return false;
}

std::string_view to_string(compatibility c) {
    switch (c) {
        case compatibility::none:
            return "none";
        case compatibility::backward:
            return "backward";
        case compatibility::forward:
            return "forward";
        case compatibility::full:
            return "full";
        case compatibility::backward_transitive:
            return "backward_transitive";
        case compatibility::forward_transitive:
            return "forward_transitive";
        case compatibility::full_transitive:
            return "full_transitive";
    }
    return "none";
}

verdict check_subset(dom::element narrow, std::string_view narrow_label, dom::element wide,
                     std::string_view wide_label) {
    checker c(narrow, narrow_label, wide, wide_label);
    try {
        return c.check(narrow, wide, "", 0);
    } catch (const simdjson::simdjson_error& e) {
        return {
            outcome::unprovable,
            std::string("a keyword with a value of an unexpected JSON type (") + e.what() + ")"};
    }
}

std::string check_evolution(compatibility mode, const std::vector<labelled_schema>& versions) {
    if (mode == compatibility::none || versions.size() < 2) return {};
    const auto& next = versions.back();
    bool transitive = mode == compatibility::backward_transitive ||
                      mode == compatibility::forward_transitive ||
                      mode == compatibility::full_transitive;
    bool backward = mode != compatibility::forward && mode != compatibility::forward_transitive;
    bool forward = mode != compatibility::backward && mode != compatibility::backward_transitive;
    std::size_t first = transitive ? 0 : versions.size() - 2;
    for (std::size_t i = versions.size() - 1; i-- > first;) {
        const auto& earlier = versions[i];
        auto explain = [&](const verdict& v, std::string_view direction) {
            std::string head = next.label + " breaks " + std::string(direction) +
                               " compatibility with " + earlier.label;
            if (v.result == outcome::unprovable)
                return head + ": " + v.reason + "; loosen the change or set compatibility: none";
            return head + ": " + v.reason;
        };
        if (backward) {
            auto v = check_subset(earlier.schema, earlier.label, next.schema, next.label);
            if (v.result != outcome::proven) return explain(v, "backward");
        }
        if (forward) {
            auto v = check_subset(next.schema, next.label, earlier.schema, earlier.label);
            if (v.result != outcome::proven) {
                if (v.result == outcome::broken &&
                    v.reason.find("would be rejected") != std::string::npos)
                    v.reason.replace(v.reason.find("would be rejected"), 17,
                                     "would be rejected by " + earlier.label + " consumers");
                return explain(v, "forward");
            }
        }
    }
    return {};
}

}  // namespace sluice::registry
