#pragma once

#include "config/settings.hpp"
#include "deliver/hub.hpp"
#include "http/server.hpp"
#include "publish/publisher.hpp"
#include "streams/pages.hpp"

namespace sluice::app {

// The config's sections as the options of the layers they tune: the layers know
// nothing of the config. Made at start and again on every reload.

// `listen`, `tls_listen`, `admin_listen` and `threads` as the server's listeners.
http::server_options to_server_options(const config::settings& s);

// `http` as the server's per-connection limits.
http::limits to_limits(const config::settings::http_settings& h);

// `publish` and the `schemas` evaluation limits as the publisher's options.
publish::publish_options to_publish_options(const config::settings& s);

// `websocket` as every hub's limits.
deliver::websocket_limits to_websocket_limits(const config::settings::websocket_settings& w);

// What bounds a page's Redis replies: the reply cap, and the largest entry a publish
// can store under the limits the broker started with (body, binary-mode headers, and
// what Sluice adds). Pages fall back to smaller steps for larger entries (stored under
// larger limits before a reload).
streams::page_limits to_page_limits(const config::settings& s);

}  // namespace sluice::app
