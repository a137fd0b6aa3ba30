#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "schema/metaschemas.hpp"
#include "schema/program.hpp"
#include "schema/schema.hpp"
#include "schema/uri.hpp"

namespace sluice::schema {
namespace {

namespace dom = simdjson::dom;

constexpr std::string_view meta_2020_12 = "https://json-schema.org/draft/2020-12/schema";
constexpr std::string_view meta_draft7 = "http://json-schema.org/draft-07/schema";
constexpr std::string_view validation_vocab =
    "https://json-schema.org/draft/2020-12/vocab/validation";

struct document {
    std::string uri;
    std::string source;
    dom::document dom;
    dom::element root;
};

// Where a schema sits: its document and the JSON Pointer to it.
struct location {
    std::size_t doc = 0;
    std::string pointer;
    bool operator<(const location& o) const {
        return doc != o.doc ? doc < o.doc : pointer < o.pointer;
    }
};

// What the scan learned about each schema position.
struct scope_info {
    std::string base;              // base URI in effect
    std::string resource;          // URI of the enclosing resource
    std::string resource_pointer;  // pointer of the resource root in the document
    draft d = draft::draft2020_12;
    bool validation = true;  // the validation vocabulary is on
};

bool is_schema_value(dom::element e) {
    return e.is_object() || e.is_bool();
}

std::string_view get_string(dom::element obj, std::string_view key) {
    std::string_view out;
    if (obj.is_object() && obj[key].get(out) == simdjson::SUCCESS) return out;
    return {};
}

}  // namespace

struct schema_set::impl {
    std::vector<std::shared_ptr<document>> docs;
    std::map<std::string, location> resources;  // URI without fragment -> resource root
    std::map<std::string, location> anchors;    // URI#name -> schema
    std::map<location, scope_info> scopes;
    dom::parser parser;

    [[noreturn]] void fail(const location& at, const std::string& what) const {
        throw schema_error(docs[at.doc]->source + "#" + at.pointer + ": " + what);
    }

    // Which draft and vocabularies a `$schema` value selects.
    void apply_meta(std::string_view meta, scope_info& s, const location& at) {
        std::string m(strip_fragment(meta));
        if (m == meta_2020_12) {
            s.d = draft::draft2020_12;
            s.validation = true;
        } else if (m == meta_draft7) {
            s.d = draft::draft7;
            s.validation = true;
        } else if (auto it = resources.find(m); it != resources.end()) {
            // A custom metaschema: its $vocabulary says which vocabularies apply.
            auto meta_root = docs[it->second.doc]->root.at_pointer(it->second.pointer);
            dom::object vocab;
            s.d = draft::draft2020_12;
            if (!meta_root.error() &&
                meta_root.value()["$vocabulary"].get(vocab) == simdjson::SUCCESS) {
                s.validation = false;
                for (auto field : vocab)
                    if (field.key == validation_vocab) s.validation = true;
            }
        } else {
            fail(at, "unknown $schema '" + std::string(meta) +
                         "'; expected https://json-schema.org/draft/2020-12/schema or "
                         "http://json-schema.org/draft-07/schema#");
        }
    }

    // Walks the schema positions of a document: registers resources ($id), anchors
    // and the scope of every subschema, so $ref can be resolved before compiling.
    void scan(std::size_t doc, dom::element e, const std::string& pointer, scope_info s) {
        location here{doc, pointer};
        if (e.is_object()) {
            if (auto meta = get_string(e, "$schema"); !meta.empty()) apply_meta(meta, s, here);
            bool d7_ref = s.d == draft::draft7 && !get_string(e, "$ref").empty();
            if (auto id = get_string(e, "$id"); !id.empty() && !d7_ref) {
                if (s.d == draft::draft7 && id.starts_with('#')) {
                    anchors.insert({std::string(strip_fragment(s.base)) + std::string(id), here});
                } else {
                    s.base = std::string(strip_fragment(resolve_uri(s.base, id)));
                    s.resource = s.base;
                    s.resource_pointer = pointer;
                    resources[s.base] = here;
                }
            }
            if (s.d == draft::draft2020_12) {
                if (auto a = get_string(e, "$anchor"); !a.empty())
                    anchors[s.base + "#" + std::string(a)] = here;
                if (auto a = get_string(e, "$dynamicAnchor"); !a.empty())
                    anchors[s.base + "#" + std::string(a)] = here;
            }
        }
        scopes[here] = s;
        if (!e.is_object()) return;
        auto child = [&](std::string_view key, dom::element v) {
            std::string p = pointer;
            append_pointer_token(p, key);
            if (is_schema_value(v)) scan(doc, v, p, s);
        };
        auto each_member = [&](std::string_view key, dom::element map) {
            dom::object obj;
            if (map.get(obj)) return;
            std::string base_ptr = pointer;
            append_pointer_token(base_ptr, key);
            for (auto field : obj) {
                std::string p = base_ptr;
                append_pointer_token(p, field.key);
                if (is_schema_value(field.value)) scan(doc, field.value, p, s);
            }
        };
        auto each_item = [&](std::string_view key, dom::element list) {
            dom::array arr;
            if (list.get(arr)) return;
            std::size_t i = 0;
            for (auto item : arr) {
                std::string p = pointer;
                append_pointer_token(p, key);
                append_pointer_token(p, std::to_string(i++));
                if (is_schema_value(item)) scan(doc, item, p, s);
            }
        };
        for (auto field : dom::object(e)) {
            std::string_view k = field.key;
            dom::element v = field.value;
            if (k == "$defs" || k == "definitions" || k == "properties" ||
                k == "patternProperties" || k == "dependentSchemas" ||
                (k == "dependencies" && v.is_object()))
                each_member(k, v);
            else if (k == "allOf" || k == "anyOf" || k == "oneOf" || k == "prefixItems" ||
                     (k == "items" && v.is_array()))
                each_item(k, v);
            else if (k == "items" || k == "additionalItems" || k == "additionalProperties" ||
                     k == "contains" || k == "propertyNames" || k == "if" || k == "then" ||
                     k == "else" || k == "not" || k == "unevaluatedItems" ||
                     k == "unevaluatedProperties")
                child(k, v);
        }
    }

    // The location a URI points to, or nullopt.
    std::optional<location> locate(const std::string& uri) const {
        std::string doc_uri(strip_fragment(uri));
        std::string frag = fragment_of(uri);
        if (frag.empty() || frag.front() == '/') {
            auto it = resources.find(doc_uri);
            if (it == resources.end()) return std::nullopt;
            location l = it->second;
            l.pointer += frag;
            auto target = docs[l.doc]->root.at_pointer(l.pointer);
            if (target.error() || !is_schema_value(target.value())) return std::nullopt;
            return l;
        }
        auto it = anchors.find(doc_uri + "#" + frag);
        if (it == anchors.end()) return std::nullopt;
        return it->second;
    }

    // The scope of a location: recorded by the scan, or (for a pointer the scan did
    // not visit) that of the closest enclosing schema it did.
    scope_info scope_of(const location& l) const {
        auto it = scopes.find(l);
        if (it != scopes.end()) return it->second;
        std::string p = l.pointer;
        while (!p.empty()) {
            p.erase(p.rfind('/'));
            auto up = scopes.find({l.doc, p});
            if (up != scopes.end()) return up->second;
        }
        return scope_info{docs[l.doc]->uri, docs[l.doc]->uri, "", draft::draft2020_12, true};
    }
};

namespace {

// Compiles reachable schemas of one schema_set into a program.
class compiler {
  public:
    compiler(const schema_set::impl& set, validator::program& prog) : set_(set), prog_(prog) {}

    std::uint32_t compile(const location& l) {
        if (auto it = compiled_.find(l); it != compiled_.end()) return it->second;
        auto id = static_cast<std::uint32_t>(prog_.nodes.size());
        compiled_[l] = id;
        prog_.nodes.emplace_back();
        auto s = set_.scope_of(l);
        dom::element e = set_.docs[l.doc]->root.at_pointer(l.pointer).value();
        node n;
        n.absolute = absolute(s, l.pointer);
        if (sources_.size() <= id) sources_.resize(id + 1);
        sources_[id] =
            set_.docs[l.doc]->source + "#" + l.pointer;  // file and pointer, for messages
        n.resource = resource_index(s.resource);
        n.resource_root = l.pointer == s.resource_pointer;
        if (e.is_bool()) {
            n.is_boolean = true;
            n.boolean_value = bool(e);
        } else {
            build(n, e, l, s);
        }
        auto resource = n.resource;
        prog_.nodes[id] = std::move(n);
        // Any resource evaluation passes through joins the dynamic scope, root or not,
        // so its dynamic anchors must be ready even if nothing refers to them.
        if (anchors_done_.insert(resource).second) register_dynamic_anchors(resource, s.resource);
        return id;
    }

    // Refuses in-place reference cycles: a schema that reaches itself without
    // moving into the instance would never finish.
    void check_cycles() {
        std::vector<int> state(prog_.nodes.size(), 0);
        for (std::uint32_t i = 0; i < prog_.nodes.size(); ++i) visit(i, state);
    }

  private:
    void visit(std::uint32_t id, std::vector<int>& state) {
        if (state[id] == 2) return;
        if (state[id] == 1)
            throw schema_error(
                sources_[id] +
                ": this schema refers to itself without descending into the instance, so "
                "evaluation would never end; break the $ref cycle");
        state[id] = 1;
        for (const auto& o : prog_.nodes[id].ops) {
            switch (o.kind) {
                case op_kind::ref:
                case op_kind::dynamic_ref:
                case op_kind::not_schema:
                    visit(o.a, state);
                    break;
                case op_kind::all_of:
                case op_kind::any_of:
                case op_kind::one_of:
                    for (auto c : o.list) visit(c, state);
                    break;
                case op_kind::if_then_else:
                    for (auto c : {o.a, o.b, o.c})
                        if (c != no_node) visit(c, state);
                    break;
                case op_kind::dependent_schemas:
                    for (const auto& [k, c] : o.named) visit(c, state);
                    break;
                default:
                    break;
            }
        }
        state[id] = 2;
    }

    static std::string absolute(const scope_info& s, const std::string& pointer) {
        std::string rel = pointer.substr(std::min(pointer.size(), s.resource_pointer.size()));
        return s.resource + "#" + rel;
    }

    std::uint32_t resource_index(const std::string& uri) {
        auto it = resource_ids_.find(uri);
        if (it != resource_ids_.end()) return it->second;
        auto id = static_cast<std::uint32_t>(prog_.resources.size());
        prog_.resources.push_back({uri, {}});
        resource_ids_[uri] = id;
        return id;
    }

    void register_dynamic_anchors(std::uint32_t resource, const std::string& uri) {
        // Every $dynamicAnchor of the resource, compiled now: a $dynamicRef elsewhere
        // may land on it through the dynamic scope without any static reference.
        std::vector<std::pair<std::string, location>> found;
        for (const auto& [key, loc] : set_.anchors) {
            if (!key.starts_with(uri + "#")) continue;
            std::string name = key.substr(uri.size() + 1);
            dom::element e = set_.docs[loc.doc]->root.at_pointer(loc.pointer).value();
            if (get_string(e, "$dynamicAnchor") == name) found.emplace_back(name, loc);
        }
        for (auto& [name, loc] : found) {
            auto id = compile(loc);
            prog_.resources[resource].dynamic_anchors[name] = id;
        }
    }

    std::uint32_t child(const location& l, std::string_view key) {
        location c = l;
        append_pointer_token(c.pointer, key);
        return compile(c);
    }
    std::uint32_t child(const location& l, std::string_view key, std::string_view sub) {
        location c = l;
        append_pointer_token(c.pointer, key);
        append_pointer_token(c.pointer, sub);
        return compile(c);
    }

    op make(op_kind k, std::string_view keyword, const node& n) {
        op o;
        o.kind = k;
        o.keyword = keyword;
        o.absolute = n.absolute;
        append_pointer_token(o.absolute, keyword);
        return o;
    }

    [[noreturn]] void fail(const location& l, std::string_view keyword,
                           const std::string& what) const {
        std::string p = l.pointer;
        append_pointer_token(p, keyword);
        throw schema_error(set_.docs[l.doc]->source + "#" + p + ": " + what);
    }

    static bool number_of(dom::element v, long double& out) {
        if (v.is_int64())
            out = static_cast<long double>(std::int64_t(v));
        else if (v.is_uint64())
            out = static_cast<long double>(std::uint64_t(v));
        else if (v.is_double())
            out = double(v);
        else
            return false;
        return true;
    }

    std::uint64_t count_of(const location& l, std::string_view k, dom::element v) {
        long double d;
        if (!number_of(v, d) || d < 0 || d != std::floor(d))
            fail(l, k, "expected a non-negative integer");
        if (d >= 18446744073709551615.0L) return std::numeric_limits<std::uint64_t>::max();
        return static_cast<std::uint64_t>(d);
    }

    std::uint32_t type_bit_of(const location& l, std::string_view name) {
        if (name == "null") return t_null;
        if (name == "boolean") return t_boolean;
        if (name == "object") return t_object;
        if (name == "array") return t_array;
        if (name == "number") return t_number;
        if (name == "string") return t_string;
        if (name == "integer") return t_integer;
        fail(l, "type", "unknown type '" + std::string(name) + "'");
    }

    std::uint32_t resolve_ref(const location& l, const scope_info& s, std::string_view keyword,
                              std::string_view ref) {
        std::string target = resolve_uri(s.base, ref);
        auto where = set_.locate(target);
        if (!where)
            fail(l, keyword,
                 "cannot resolve '" + std::string(ref) + "' (as " + target +
                     "); add the schema that defines it to the schemas folder with that $id");
        return compile(*where);
    }

    void build(node& n, dom::element e, const location& l, const scope_info& s) {
        const bool d7 = s.d == draft::draft7;
        dom::object obj(e);
        // Draft-07: $ref ignores its siblings.
        if (d7) {
            if (auto r = get_string(e, "$ref"); !r.empty()) {
                auto o = make(op_kind::ref, "$ref", n);
                o.a = resolve_ref(l, s, "$ref", r);
                n.ops.push_back(std::move(o));
                return;
            }
        }
        std::vector<op> late;  // unevaluated*: after everything that produces annotations
        op props = make(op_kind::properties, "properties", n);
        bool has_props = false;
        op items = make(op_kind::items, "items", n);
        bool has_items = false;
        op contains = make(op_kind::contains, "contains", n);
        bool has_contains = false, has_min_contains = false;
        op cond = make(op_kind::if_then_else, "if", n);
        bool has_if = false;
        const bool val = s.validation;

        std::vector<std::string_view> seen;
        for (auto field : obj) {
            std::string_view k = field.key;
            dom::element v = field.value;
            // simdjson keeps duplicate keys; a schema with them means two things at once.
            if (std::find(seen.begin(), seen.end(), k) != seen.end())
                fail(l, k, "the keyword appears twice");
            seen.push_back(k);
            long double num = 0;
            if (k == "$ref") {
                auto o = make(op_kind::ref, k, n);
                o.a = resolve_ref(l, s, k, std::string_view(v));
                n.ops.push_back(std::move(o));
            } else if (k == "$dynamicRef" && !d7) {
                auto o = make(op_kind::dynamic_ref, k, n);
                std::string_view ref(v);
                o.a = resolve_ref(l, s, k, ref);
                // Dynamic only when the static target is itself a $dynamicAnchor of that name.
                std::string target = resolve_uri(s.base, ref);
                std::string frag = fragment_of(target);
                if (!frag.empty() && frag.front() != '/') {
                    auto where = set_.locate(target);
                    dom::element t = set_.docs[where->doc]->root.at_pointer(where->pointer).value();
                    if (get_string(t, "$dynamicAnchor") == frag) o.anchor = frag;
                }
                n.ops.push_back(std::move(o));
            } else if (k == "type" && val) {
                auto o = make(op_kind::type, k, n);
                if (v.is_string()) {
                    o.types = type_bit_of(l, std::string_view(v));
                } else {
                    for (auto t : dom::array(v)) o.types |= type_bit_of(l, std::string_view(t));
                }
                n.ops.push_back(std::move(o));
            } else if (k == "enum" && val) {
                auto o = make(op_kind::enum_values, k, n);
                if (!v.is_array()) fail(l, k, "expected an array");
                o.value = v;
                n.ops.push_back(std::move(o));
            } else if (k == "const" && val) {
                auto o = make(op_kind::const_value, k, n);
                o.value = v;
                n.ops.push_back(std::move(o));
            } else if ((k == "multipleOf" || k == "maximum" || k == "exclusiveMaximum" ||
                        k == "minimum" || k == "exclusiveMinimum") &&
                       val) {
                if (!number_of(v, num)) fail(l, k, "expected a number");
                op_kind kind = k == "multipleOf"         ? op_kind::multiple_of
                               : k == "maximum"          ? op_kind::maximum
                               : k == "exclusiveMaximum" ? op_kind::exclusive_maximum
                               : k == "minimum"          ? op_kind::minimum
                                                         : op_kind::exclusive_minimum;
                if (kind == op_kind::multiple_of && num <= 0) fail(l, k, "expected a number > 0");
                auto o = make(kind, k, n);
                o.number = num;
                n.ops.push_back(std::move(o));
            } else if ((k == "maxLength" || k == "minLength" || k == "maxItems" ||
                        k == "minItems" || k == "maxProperties" || k == "minProperties") &&
                       val) {
                op_kind kind = k == "maxLength"       ? op_kind::max_length
                               : k == "minLength"     ? op_kind::min_length
                               : k == "maxItems"      ? op_kind::max_items
                               : k == "minItems"      ? op_kind::min_items
                               : k == "maxProperties" ? op_kind::max_properties
                                                      : op_kind::min_properties;
                auto o = make(kind, k, n);
                o.count = count_of(l, k, v);
                n.ops.push_back(std::move(o));
            } else if (k == "pattern" && val) {
                auto o = make(op_kind::pattern, k, n);
                try {
                    o.re = std::make_shared<regex>(std::string_view(v));
                } catch (const std::invalid_argument& err) {
                    fail(l, k, err.what());
                }
                n.ops.push_back(std::move(o));
            } else if (k == "format") {
                auto o = make(op_kind::format, k, n);
                o.format_name = std::string(std::string_view(v));
                o.format = format_from_name(o.format_name);
                if (options().assert_formats && o.format != format_kind::unknown)
                    n.ops.push_back(std::move(o));
            } else if (k == "uniqueItems" && val) {
                if (v.is_bool() && bool(v)) n.ops.push_back(make(op_kind::unique_items, k, n));
            } else if (k == "required" && val) {
                auto o = make(op_kind::required, k, n);
                for (auto name : dom::array(v)) o.names.emplace_back(std::string_view(name));
                n.ops.push_back(std::move(o));
            } else if (k == "dependentRequired" && val) {
                auto o = make(op_kind::dependent_required, k, n);
                for (auto f : dom::object(v)) {
                    std::vector<std::string> names;
                    for (auto name : dom::array(f.value))
                        names.emplace_back(std::string_view(name));
                    o.dependencies.emplace_back(std::string(f.key), std::move(names));
                }
                n.ops.push_back(std::move(o));
            } else if (k == "dependencies" && d7) {
                auto req = make(op_kind::dependent_required, k, n);
                auto sch = make(op_kind::dependent_schemas, k, n);
                for (auto f : dom::object(v)) {
                    if (f.value.is_array()) {
                        std::vector<std::string> names;
                        for (auto name : dom::array(f.value))
                            names.emplace_back(std::string_view(name));
                        req.dependencies.emplace_back(std::string(f.key), std::move(names));
                    } else {
                        sch.named.emplace_back(std::string(f.key), child(l, k, f.key));
                    }
                }
                n.ops.push_back(std::move(req));
                n.ops.push_back(std::move(sch));
            } else if (k == "properties") {
                for (auto f : dom::object(v)) {
                    for (const auto& existing : props.named)
                        if (existing.first == f.key)
                            fail(l, k, "property '" + std::string(f.key) + "' appears twice");
                    props.named.emplace_back(std::string(f.key), child(l, k, f.key));
                }
                has_props = true;
            } else if (k == "patternProperties") {
                for (auto f : dom::object(v)) {
                    std::shared_ptr<regex> re;
                    try {
                        re = std::make_shared<regex>(f.key);
                    } catch (const std::invalid_argument& err) {
                        fail(l, k, err.what());
                    }
                    props.patterns.emplace_back(std::move(re), child(l, k, f.key));
                }
                has_props = true;
            } else if (k == "additionalProperties") {
                props.a = child(l, k);
                has_props = true;
            } else if (k == "propertyNames") {
                auto o = make(op_kind::property_names, k, n);
                o.a = child(l, k);
                n.ops.push_back(std::move(o));
            } else if (k == "dependentSchemas" && !d7) {
                auto o = make(op_kind::dependent_schemas, k, n);
                for (auto f : dom::object(v))
                    o.named.emplace_back(std::string(f.key), child(l, k, f.key));
                n.ops.push_back(std::move(o));
            } else if (k == "prefixItems" && !d7) {
                std::size_t i = 0;
                for ([[maybe_unused]] auto item : dom::array(v))
                    items.list.push_back(child(l, k, std::to_string(i++)));
                has_items = true;
            } else if (k == "items") {
                if (d7 && v.is_array()) {
                    items.names = {"items", "additionalItems"};
                    std::size_t i = 0;
                    for ([[maybe_unused]] auto item : dom::array(v))
                        items.list.push_back(child(l, k, std::to_string(i++)));
                } else {
                    items.a = child(l, k);
                }
                has_items = true;
            } else if (k == "additionalItems" && d7) {
                items.names = {"items", "additionalItems"};
                if (obj["items"].is_array()) items.a = child(l, k);
                has_items = true;
            } else if (k == "contains") {
                contains.a = child(l, k);
                has_contains = true;
            } else if (k == "minContains" && !d7 && val) {
                contains.count = count_of(l, k, v);
                has_min_contains = true;
            } else if (k == "maxContains" && !d7 && val) {
                contains.count_max = count_of(l, k, v);
            } else if (k == "unevaluatedItems" && !d7) {
                auto o = make(op_kind::unevaluated_items, k, n);
                o.a = child(l, k);
                late.push_back(std::move(o));
                n.needs_annotations = true;
            } else if (k == "unevaluatedProperties" && !d7) {
                auto o = make(op_kind::unevaluated_properties, k, n);
                o.a = child(l, k);
                late.push_back(std::move(o));
                n.needs_annotations = true;
            } else if (k == "allOf" || k == "anyOf" || k == "oneOf") {
                auto o = make(k == "allOf"   ? op_kind::all_of
                              : k == "anyOf" ? op_kind::any_of
                                             : op_kind::one_of,
                              k, n);
                std::size_t i = 0;
                for ([[maybe_unused]] auto item : dom::array(v))
                    o.list.push_back(child(l, k, std::to_string(i++)));
                n.ops.push_back(std::move(o));
            } else if (k == "not") {
                auto o = make(op_kind::not_schema, k, n);
                o.a = child(l, k);
                n.ops.push_back(std::move(o));
            } else if (k == "if") {
                cond.a = child(l, k);
                has_if = true;
            } else if (k == "then") {
                cond.b = child(l, k);
            } else if (k == "else") {
                cond.c = child(l, k);
            }
        }
        if (has_props) {
            fold_required(n, props);
            n.ops.push_back(std::move(props));
        }
        if (has_items) n.ops.push_back(std::move(items));
        if (has_contains) {
            contains.count = has_min_contains ? contains.count : 1;
            n.ops.push_back(std::move(contains));
        }
        if (has_if) n.ops.push_back(std::move(cond));
        for (auto& o : late) n.ops.push_back(std::move(o));
        make_leaf(n);
    }

    // Marks `n` a leaf when all its ops are checks on the instance alone.
    static void make_leaf(node& n) {
        if (n.ops.empty()) return;
        leaf_checks l;
        for (const auto& o : n.ops) {
            switch (o.kind) {
                case op_kind::type:
                    l.types = o.types;
                    break;
                case op_kind::format:
                    l.format = o.format, l.string_checks = true;
                    break;
                case op_kind::min_length:
                    l.min_length = o.count, l.string_checks = true;
                    break;
                case op_kind::max_length:
                    l.max_length = o.count, l.string_checks = true;
                    break;
                case op_kind::pattern:
                    l.pattern = o.re.get(), l.string_checks = true;
                    break;
                case op_kind::minimum:
                    l.minimum = o.number, l.number_checks = true;
                    break;
                case op_kind::maximum:
                    l.maximum = o.number, l.number_checks = true;
                    break;
                case op_kind::exclusive_minimum:
                    l.exclusive_minimum = o.number, l.number_checks = true;
                    break;
                case op_kind::exclusive_maximum:
                    l.exclusive_maximum = o.number, l.number_checks = true;
                    break;
                case op_kind::enum_values:
                    for (auto v : dom::array(o.value)) {
                        std::string_view sv;
                        if (v.get(sv)) return;  // only string enums are leaf checks
                        l.enum_strings.emplace_back(sv);
                    }
                    l.has_enum = true;
                    break;
                default:
                    return;
            }
        }
        n.is_leaf = true;
        n.leaf = std::move(l);
    }

    // Moves `required` into the properties op when it can be checked in the same pass.
    static void fold_required(node& n, op& props) {
        auto it = std::find_if(n.ops.begin(), n.ops.end(),
                               [](const op& o) { return o.kind == op_kind::required; });
        if (it == n.ops.end() || it->names.size() > 64) return;
        std::vector<std::uint8_t> bits(props.named.size(), 0xFF);
        for (std::size_t r = 0; r < it->names.size(); ++r) {
            auto at = std::find_if(props.named.begin(), props.named.end(),
                                   [&](const auto& entry) { return entry.first == it->names[r]; });
            if (at == props.named.end() ||
                bits[static_cast<std::size_t>(at - props.named.begin())] != 0xFF)
                return;
            bits[static_cast<std::size_t>(at - props.named.begin())] = static_cast<std::uint8_t>(r);
        }
        props.required_mask.assign(bits.size(), 0);
        for (std::size_t i = 0; i < bits.size(); ++i)
            if (bits[i] != 0xFF) props.required_mask[i] = 1ull << bits[i];
        props.required_all = it->names.size() == 64 ? ~0ull : (1ull << it->names.size()) - 1;
        props.names = std::move(it->names);
        props.required_absolute = it->absolute;
        n.ops.erase(it);
    }

    const compile_options& options() const { return prog_.options; }

    const schema_set::impl& set_;
    validator::program& prog_;
    std::map<location, std::uint32_t> compiled_;
    std::map<std::string, std::uint32_t> resource_ids_;
    std::set<std::uint32_t> anchors_done_;
    std::vector<std::string> sources_;  // per node: its file and JSON Pointer
};

}  // namespace

schema_set::schema_set() : impl_(std::make_unique<impl>()) {
    for (auto [uri, text] : builtin_metaschemas()) add(std::string(uri), text, std::string(uri));
}
schema_set::~schema_set() = default;

void schema_set::add(const std::string& uri, std::string_view json_text,
                     const std::string& source) {
    auto d = std::make_shared<document>();
    d->uri = std::string(strip_fragment(uri));
    d->source = source;
    simdjson::padded_string text(json_text);
    auto error = impl_->parser.parse_into_document(d->dom, text).get(d->root);
    if (error)
        throw schema_error(source + ": not valid JSON (" + simdjson::error_message(error) + ")");
    if (!is_schema_value(d->root))
        throw schema_error(source + ": a JSON Schema must be an object or a boolean");
    std::size_t index = impl_->docs.size();
    // A document the scan refuses leaves no trace: everything is restored.
    auto resources = impl_->resources;
    auto anchors = impl_->anchors;
    auto scopes = impl_->scopes;
    impl_->resources[d->uri] = {index, ""};
    scope_info s{d->uri, d->uri, "", draft::draft2020_12, true};
    dom::element root = d->root;
    impl_->docs.push_back(std::move(d));
    try {
        impl_->scan(index, root, "", s);
    } catch (...) {
        impl_->docs.pop_back();
        impl_->resources = std::move(resources);
        impl_->anchors = std::move(anchors);
        impl_->scopes = std::move(scopes);
        throw;
    }
}

std::shared_ptr<const validator> schema_set::compile(const std::string& uri,
                                                     const compile_options& options) const {
    auto prog = std::make_unique<validator::program>();
    prog->options = options;
    auto where = impl_->locate(uri);
    if (!where) throw schema_error(uri + ": no such schema in the set");
    prog->keep_alive = std::make_shared<std::vector<std::shared_ptr<document>>>(impl_->docs);
    compiler c(*impl_, *prog);
    try {
        prog->root = c.compile(*where);
    } catch (const simdjson::simdjson_error& e) {
        throw schema_error(uri + ": a keyword has a value of the wrong JSON type (" + e.what() +
                           ")");
    }
    c.check_cycles();
    return std::make_shared<validator>(std::move(prog));
}

}  // namespace sluice::schema
