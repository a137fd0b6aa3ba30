#pragma once

#include <string>
#include <string_view>

namespace sluice::schema {

// Resolves the URI reference `ref` against the absolute URI `base` (RFC 3986 §5.2,
// with dot-segment removal). Non-hierarchical bases (urn:, tag:) resolve fragment-
// only references; anything else resolves to `ref` itself when it has a scheme.
std::string resolve_uri(std::string_view base, std::string_view ref);

// `uri` without its fragment (and without the '#').
std::string_view strip_fragment(std::string_view uri);

// The fragment of `uri`, percent-decoded, without '#'; empty when there is none.
std::string fragment_of(std::string_view uri);

// Appends one JSON Pointer reference token to `pointer` ("/" + escaped `token`).
void append_pointer_token(std::string& pointer, std::string_view token);

// Decodes one reference token (~1 -> '/', ~0 -> '~'). False on a bad escape.
bool unescape_pointer_token(std::string_view token, std::string& out);

}  // namespace sluice::schema
