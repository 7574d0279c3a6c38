// How hubd's components publish as Hub.
#pragma once

#include <functional>
#include <string>

namespace hub {

// Publishes one event as Hub; `retain` keeps it as the topic's last value. Safe from any
// thread; returns once the broker has the event.
using HubPublish =
    std::function<void(const std::string& topic, const std::string& json, bool retain)>;

}  // namespace hub
