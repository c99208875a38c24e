// SPDX-License-Identifier: GPL-2.0-or-later
// The daemon's records rewritten off its main loop (issue 12, finding 5b):
// a record of up to 64 MiB costs its serialization, its write and two
// fsyncs, which the bus's only thread must not wait for while every other
// client waits for the bus.  The daemon builds the record (its structures
// are not thread-safe) and hands it over; one thread of its own serializes,
// writes, fsyncs and renames it into place.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/result.hpp"
#include "record/record.hpp"

namespace dbus_checkpoint::record {

// save_later(), save_now() and remove() are called from one thread (the
// daemon's main loop); the file of a checkpoint id always ends up as the
// last of them left it.
class StateWriter {
public:
  // Called on the writer's thread with a sentence saying which write
  // failed and why, for the daemon's log.
  using FailureLog = std::function<void(const std::string &sentence)>;

  struct Options {
    // Tests only: each write on the writer's thread first sleeps this long
    // (a slow disk), so that a test can see who waits for it.
    std::chrono::milliseconds delay_each_write{0};
  };

  StateWriter(std::string dir, FailureLog log_failure, Options options);
  StateWriter(std::string dir, FailureLog log_failure)
      : StateWriter(std::move(dir), std::move(log_failure), Options{})
  {
  }
  StateWriter(const StateWriter &) = delete;
  StateWriter &operator=(const StateWriter &) = delete;
  // Writes what is still pending, then stops the thread.
  ~StateWriter();

  // Queues the record to be written by the thread, which starts with the
  // first save (after a daemon's fork, not before).  A save of the same id
  // still pending is replaced by this one: only the newest is written.
  // If no thread can be started the record is written here and now.
  // Throws std::bad_alloc.
  void save_later(FrozenConnection record);

  // Writes the record on the calling thread (its failure is the caller's
  // answer), after which no older save of its id renames its file.
  base::Status save_now(const FrozenConnection &record) noexcept;

  // Removes DIR/<id>.record on the calling thread; a save of the id still
  // pending is dropped and one being written is not renamed into place.
  base::Status remove(std::string_view checkpoint_id) noexcept;

  // Waits until every queued save is written (or failed).
  void flush();

private:
  void start_thread_locked();
  void run();
  // The next queued save taken (in_flight_ is its id), or false if stopped.
  bool take_next_locked(std::unique_lock<std::mutex> &lock, FrozenConnection &record_out);
  // Writes `record` as the thread does: empty, or why it failed.
  std::string write_in_flight(const FrozenConnection &record);
  void supersede_locked(const std::string &checkpoint_id);

  const std::string dir_;
  const FailureLog log_failure_;
  const Options options_;

  std::mutex mutex_;
  std::condition_variable work_or_stop_;
  std::condition_variable idle_;
  std::map<std::string, FrozenConnection> pending_;  // id -> newest record
  std::deque<std::string> order_;                    // ids, oldest save first
  std::string in_flight_;                            // id being written, or empty
  bool in_flight_superseded_ = false;                // it must not be renamed into place
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace dbus_checkpoint::record
