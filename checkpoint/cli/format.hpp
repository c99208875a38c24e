// SPDX-License-Identifier: GPL-2.0-or-later
// How the CLI writes times, durations, sizes and tables for people.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dbus_checkpoint::cli {

using Clock = std::chrono::steady_clock;

// Now, CLOCK_REALTIME, in microseconds (as ListFrozen's "since").
std::int64_t realtime_usec();

double to_milliseconds(Clock::duration duration);
std::string format_milliseconds(Clock::duration duration);  // "0.42 ms"
std::string format_milliseconds(double milliseconds);

// An age, to the two largest units: "0s", "45s", "3m12s", "2h05m", "3d04h".
std::string format_age(std::chrono::seconds age);

// A CLOCK_REALTIME time in microseconds, in the local time zone:
// "2025-11-24 05:41:02", and as RFC 3339: "2025-11-24T05:41:02+01:00".
std::string format_local_time(std::int64_t usec);
std::string format_rfc3339(std::int64_t usec);

// "512 B", "3.4 KiB", "12.0 MiB".
std::string format_bytes(std::uint64_t bytes);

// Left-aligned columns two spaces apart; the last column is not padded.
using TableRow = std::vector<std::string>;
std::string format_table(const TableRow &header, const std::vector<TableRow> &rows);

} // namespace dbus_checkpoint::cli
