#include "schema/uri.hpp"

#include <vector>

namespace sluice::schema {
namespace {

struct uri_parts {
    std::string_view scheme, authority, path, query, fragment;
    bool has_scheme = false, has_authority = false, has_query = false, has_fragment = false;
};

uri_parts split(std::string_view u) {
    uri_parts p;
    auto hash = u.find('#');
    if (hash != std::string_view::npos) {
        p.fragment = u.substr(hash + 1);
        p.has_fragment = true;
        u = u.substr(0, hash);
    }
    auto q = u.find('?');
    if (q != std::string_view::npos) {
        p.query = u.substr(q + 1);
        p.has_query = true;
        u = u.substr(0, q);
    }
    auto colon = u.find(':');
    auto slash = u.find('/');
    if (colon != std::string_view::npos && colon > 0 &&
        (slash == std::string_view::npos || colon < slash)) {
        p.scheme = u.substr(0, colon);
        p.has_scheme = true;
        u = u.substr(colon + 1);
    }
    if (u.starts_with("//")) {
        u = u.substr(2);
        auto end = u.find('/');
        p.authority = u.substr(0, end);
        p.has_authority = true;
        u = end == std::string_view::npos ? std::string_view{} : u.substr(end);
    }
    p.path = u;
    return p;
}

std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> out;
    bool absolute = path.starts_with('/');
    std::string_view rest = absolute ? path.substr(1) : path;
    bool trailing = false;
    while (true) {
        auto slash = rest.find('/');
        std::string_view seg = rest.substr(0, slash);
        trailing = false;
        if (seg == "..") {
            if (!out.empty()) out.pop_back();
            trailing = true;
        } else if (seg == ".") {
            trailing = true;
        } else {
            out.push_back(seg);
        }
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    std::string result = absolute ? "/" : "";
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (i) result += '/';
        result += out[i];
    }
    if (trailing && !result.ends_with('/')) result += '/';
    return result;
}

std::string compose(const uri_parts& p, const std::string& path) {
    std::string out;
    if (p.has_scheme) out.append(p.scheme).append(":");
    if (p.has_authority) out.append("//").append(p.authority);
    out += path;
    if (p.has_query) out.append("?").append(p.query);
    if (p.has_fragment) out.append("#").append(p.fragment);
    return out;
}

}  // namespace

std::string resolve_uri(std::string_view base, std::string_view ref) {
    uri_parts r = split(ref);
    if (r.has_scheme) return compose(r, remove_dot_segments(r.path));
    uri_parts b = split(base);
    uri_parts t;
    t.scheme = b.scheme;
    t.has_scheme = b.has_scheme;
    t.fragment = r.fragment;
    t.has_fragment = r.has_fragment;
    std::string path;
    if (r.has_authority) {
        t.authority = r.authority;
        t.has_authority = true;
        path = remove_dot_segments(r.path);
        t.query = r.query;
        t.has_query = r.has_query;
    } else {
        t.authority = b.authority;
        t.has_authority = b.has_authority;
        if (r.path.empty()) {
            path = std::string(b.path);
            t.query = r.has_query ? r.query : b.query;
            t.has_query = r.has_query || b.has_query;
        } else {
            if (r.path.starts_with('/')) {
                path = remove_dot_segments(r.path);
            } else if (b.has_authority && b.path.empty()) {
                path = remove_dot_segments("/" + std::string(r.path));
            } else {
                auto last = b.path.rfind('/');
                std::string merged =
                    last == std::string_view::npos
                        ? std::string(r.path)
                        : std::string(b.path.substr(0, last + 1)) + std::string(r.path);
                path = remove_dot_segments(merged);
            }
            t.query = r.query;
            t.has_query = r.has_query;
        }
    }
    return compose(t, path);
}

std::string_view strip_fragment(std::string_view uri) {
    return uri.substr(0, uri.find('#'));
}

std::string fragment_of(std::string_view uri) {
    auto hash = uri.find('#');
    if (hash == std::string_view::npos) return {};
    std::string_view f = uri.substr(hash + 1);
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (f[i] == '%' && i + 2 < f.size() && hex(f[i + 1]) >= 0 && hex(f[i + 2]) >= 0) {
            out += static_cast<char>(hex(f[i + 1]) * 16 + hex(f[i + 2]));
            i += 2;
        } else {
            out += f[i];
        }
    }
    return out;
}

void append_pointer_token(std::string& pointer, std::string_view token) {
    pointer += '/';
    for (char c : token) {
        if (c == '~')
            pointer += "~0";
        else if (c == '/')
            pointer += "~1";
        else
            pointer += c;
    }
}

bool unescape_pointer_token(std::string_view token, std::string& out) {
    out.clear();
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] != '~') {
            out += token[i];
            continue;
        }
        if (i + 1 >= token.size()) return false;
        if (token[i + 1] == '0')
            out += '~';
        else if (token[i + 1] == '1')
            out += '/';
        else
            return false;
        ++i;
    }
    return true;
}

}  // namespace sluice::schema
