#include "deliver/ws_codec.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <simdjson.h>

namespace sluice::deliver {
namespace {
constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
}

std::string ws_accept_key(std::string_view client_key) {
    std::string material(client_key);
    material += guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(material.data()), material.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

bool ws_valid_client_key(std::string_view key) {
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (char c : key.substr(0, 22)) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok) return false;
    }
    return true;
}

void append_ws_frame_header(std::string& out, ws_opcode op, std::size_t size) {
    out += static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    if (size < 126) {
        out += static_cast<char>(size);
    } else if (size <= 0xFFFF) {
        out += static_cast<char>(126);
        out += static_cast<char>((size >> 8) & 0xFF);
        out += static_cast<char>(size & 0xFF);
    } else {
        out += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            out += static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xFF);
    }
}

void append_ws_close_frame(std::string& out, std::uint16_t code, std::string_view reason) {
    if (reason.size() > 123) reason = reason.substr(0, 123);
    append_ws_frame_header(out, ws_opcode::close, 2 + reason.size());
    out += static_cast<char>(code >> 8);
    out += static_cast<char>(code & 0xFF);
    out += reason;
}

ws_frame_reader::result ws_frame_reader::fail(std::uint16_t code, std::string text) {
    close_code = code;
    error_text = std::move(text);
    return result::error;
}

ws_frame_reader::result ws_frame_reader::need_more(std::string& buffer) {
    if (offset_) {
        buffer.erase(0, offset_);
        offset_ = 0;
    }
    return result::need_more;
}

ws_frame_reader::result ws_frame_reader::next(std::string& buffer, event& out) {
    for (;;) {
        const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + offset_);
        std::size_t have = buffer.size() - offset_;
        if (have < 2) return need_more(buffer);
        bool fin = p[0] & 0x80;
        if (p[0] & 0x70) return fail(1002, "reserved bits set without a negotiated extension");
        auto op = static_cast<ws_opcode>(p[0] & 0x0F);
        bool masked = p[1] & 0x80;
        std::uint64_t len = p[1] & 0x7F;
        std::size_t at = 2;
        if (len == 126) {
            if (have < 4) return need_more(buffer);
            len = (std::uint64_t(p[2]) << 8) | p[3];
            at = 4;
        } else if (len == 127) {
            if (have < 10) return need_more(buffer);
            len = 0;
            for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
            at = 10;
        }
        if (!masked) return fail(1002, "client frames must be masked");
        bool control = static_cast<std::uint8_t>(op) & 0x8;
        if (control) {
            if (!fin || len > 125) return fail(1002, "control frames must be final and short");
            if (op != ws_opcode::close && op != ws_opcode::ping && op != ws_opcode::pong)
                return fail(1002, "unknown control opcode");
        } else if (op == ws_opcode::continuation) {
            if (!in_message_) return fail(1002, "continuation frame without a message");
        } else if (op == ws_opcode::text || op == ws_opcode::binary) {
            if (in_message_) return fail(1002, "new message inside a fragmented one");
        } else {
            return fail(1002, "unknown opcode");
        }
        // message_ still holds the last fragmented message until a new one starts:
        // count it only while a message is in progress.
        std::size_t so_far = in_message_ ? message_.size() : 0;
        if (!control && (len > max_message_ || so_far + len > max_message_))
            return fail(1009, "message larger than " + std::to_string(max_message_) + " bytes");
        if (have < at + 4 + len) {
            auto r = need_more(buffer);
            buffer.reserve(at + 4 + len);
            return r;
        }
        unsigned char mask[4] = {p[at], p[at + 1], p[at + 2], p[at + 3]};
        at += 4;
        char* payload = buffer.data() + offset_ + at;
        for (std::uint64_t i = 0; i < len; ++i) payload[i] ^= static_cast<char>(mask[i & 3]);
        std::string_view data(payload, len);
        std::size_t frame_end = at + len;

        if (op == ws_opcode::close && len > 0) {
            // A close body is a 2-byte code an endpoint may send (RFC 6455 5.5.1, 7.4),
            // so an echo of it is a valid close frame too.
            if (len < 2) return fail(1002, "a close frame body must hold a 2-byte code");
            unsigned code =
                (static_cast<unsigned char>(data[0]) << 8) | static_cast<unsigned char>(data[1]);
            bool sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                            (code >= 3000 && code <= 4999);
            if (!sendable) return fail(1002, "invalid close code " + std::to_string(code));
            // RFC 6455, 5.5.1 and 8.1: the reason is UTF-8 text.
            if (!simdjson::validate_utf8(data.data() + 2, data.size() - 2))
                return fail(1007, "a close frame's reason that is not UTF-8");
        }
        if (control) {
            offset_ += frame_end;
            out.op = op;
            out.payload = data;
            return result::control;
        }
        if (fin && !in_message_) {
            offset_ += frame_end;
            out.op = op;
            out.payload = data;
            return result::message;
        }
        // A fragment: collect it.
        if (!in_message_) {
            in_message_ = true;
            message_op_ = op;
            message_.clear();
        }
        message_.append(data);
        offset_ += frame_end;
        if (fin) {
            in_message_ = false;
            out.op = message_op_;
            out.payload = message_;
            return result::message;
        }
    }
}

}  // namespace sluice::deliver
