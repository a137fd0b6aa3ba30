#pragma once

#include <string>
#include <utility>
#include <vector>

#include "redis/resp.hpp"
#include "redis/script.hpp"

namespace sluice::streams {

// Moves dead letters back onto their source stream: each one's fields without the
// `dlq_` ones (docs/storage.md) become a new entry, and the dead letter is deleted,
// all in one script on the type's slot, so a requeue is never half done.
//   KEYS[1] the dead-letter stream, KEYS[2] the source stream
//   ARGV[1] "ids": ARGV[3..] the dead-letter entry ids to requeue (<ms>-<seq>)
//           "all": ARGV[3] the XRANGE start ("-", or "(" .. id to read after an id)
//   ARGV[2] at most this many dead letters per call (bounds how long Redis blocks)
// Returns {{dlq id, new id, ...}, {missing ids...}, dead letters examined, last id
// examined or ""}. A dead letter holding no event fields is reported as missing and
// left in place.
const redis::script& requeue_script();

// Deletes the dead-letter stream.  KEYS[1] the dead-letter stream.
// Returns how many dead letters it held.
const redis::script& clear_dead_letters_script();

// What one requeue call did.
struct requeue_result {
    std::vector<std::pair<std::string, std::string>> requeued;  // dlq entry id, new entry id
    std::vector<std::string> missing;
    long long examined = 0;  // with "all": dead letters read by the call
    std::string last;        // with "all": the last one read
};

// Appends what the script's reply says to `out`. False when the reply has another shape.
bool read_requeue_reply(const redis::reply& r, requeue_result& out);

}  // namespace sluice::streams
