#pragma once

#include <simdjson.h>

#include <cmath>
#include <cstdint>

namespace sluice::schema {

// JSON Schema's instance types as bits. An integral number carries both t_number and
// t_integer (1.0 is an integer in 2020-12).
enum type_bit : std::uint32_t {
    t_null = 1,
    t_boolean = 2,
    t_object = 4,
    t_array = 8,
    t_number = 16,
    t_string = 32,
    t_integer = 64,
};
inline constexpr std::uint32_t all_types = 0x7F;

inline bool is_integral(double d) {
    return std::isfinite(d) && d == std::floor(d);
}

// The type bits of one JSON value.
inline std::uint32_t type_bits(simdjson::dom::element e) {
    namespace dom = simdjson::dom;
    switch (e.type()) {
        case dom::element_type::NULL_VALUE:
            return t_null;
        case dom::element_type::BOOL:
            return t_boolean;
        case dom::element_type::OBJECT:
            return t_object;
        case dom::element_type::ARRAY:
            return t_array;
        case dom::element_type::STRING:
            return t_string;
        case dom::element_type::INT64:
        case dom::element_type::UINT64:
            return t_number | t_integer;
        case dom::element_type::DOUBLE:
            return is_integral(double(e)) ? std::uint32_t{t_number | t_integer}
                                          : std::uint32_t{t_number};
    }
    return 0;
}

}  // namespace sluice::schema
