// SPDX-License-Identifier: GPL-2.0-or-later
#include "record/state_writer.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstring>
#include <new>
#include <system_error>
#include <utility>

#include "record/state_dir.hpp"

namespace dbus_checkpoint::record {
namespace {

// As the daemon said it when it wrote records itself.
std::string write_failure(const std::string &checkpoint_id, const std::string &dir,
                          const base::Error &error)
{
  return "Cannot write the record of checkpoint " + checkpoint_id + " in " + dir + ": " +
         std::strerror(-error.negative_errno());
}

} // namespace

StateWriter::StateWriter(std::string dir, FailureLog log_failure, Options options)
    : dir_(std::move(dir)), log_failure_(std::move(log_failure)), options_(options)
{
}

StateWriter::~StateWriter()
{
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_or_stop_.notify_one();
  if (thread_.joinable())
    thread_.join();
}

void StateWriter::start_thread_locked()
{
  if (thread_.joinable())
    return;
  // The thread starts with every signal blocked: the daemon's handlers
  // (SIGHUP reloads, SIGTERM stops) keep running on its main thread.
  sigset_t all_signals;
  sigset_t previous;
  ::sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void StateWriter::save_later(FrozenConnection record)
{
  std::unique_lock lock(mutex_);
  try {
    start_thread_locked();
  } catch (const std::system_error &) {
    // No thread (EAGAIN: out of threads): as before there was one.
    lock.unlock();
    if (auto saved = save_now(record); !saved)
      log_failure_(write_failure(record.checkpoint_id(), dir_, saved.error()));
    return;
  }
  const std::string id = record.checkpoint_id();
  auto [pending, added] = pending_.try_emplace(id);
  if (added) {
    try {
      order_.push_back(id);
    } catch (...) {
      pending_.erase(pending);
      throw;
    }
  }
  pending->second = std::move(record);
  lock.unlock();
  work_or_stop_.notify_one();
}

base::Status StateWriter::save_now(const FrozenConnection &record) noexcept
{
  try {
    {
      std::lock_guard lock(mutex_);
      supersede_locked(record.checkpoint_id());
    }
    // Nothing older renames this id's file from here on: no lock needed.
    return save_record(dir_, record);
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

base::Status StateWriter::remove(std::string_view checkpoint_id) noexcept
{
  try {
    {
      std::lock_guard lock(mutex_);
      supersede_locked(std::string(checkpoint_id));
    }
    return remove_record(dir_, checkpoint_id);
  } catch (const std::bad_alloc &) {
    return base::failure(ENOMEM, {});
  }
}

void StateWriter::flush()
{
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return pending_.empty() && in_flight_.empty(); });
}

void StateWriter::supersede_locked(const std::string &checkpoint_id)
{
  // Its entry in order_ stays: take_next_locked() skips ids not pending.
  pending_.erase(checkpoint_id);
  if (in_flight_ == checkpoint_id)
    in_flight_superseded_ = true;
}

bool StateWriter::take_next_locked(std::unique_lock<std::mutex> &lock,
                                   FrozenConnection &record_out)
{
  for (;;) {
    work_or_stop_.wait(lock, [this] { return !order_.empty() || stopping_; });
    if (order_.empty())
      return false;  // stopping, and everything written
    std::string id = std::move(order_.front());
    order_.pop_front();
    auto pending = pending_.find(id);
    if (pending == pending_.end())
      continue;  // superseded by save_now() or remove()
    record_out = std::move(pending->second);
    pending_.erase(pending);
    in_flight_ = std::move(id);
    in_flight_superseded_ = false;
    return true;
  }
}

void StateWriter::run()
{
  std::unique_lock lock(mutex_);
  FrozenConnection record;
  while (take_next_locked(lock, record)) {
    lock.unlock();
    std::string failure;
    try {
      failure = write_in_flight(record);
    } catch (const std::bad_alloc &) {
      failure = write_failure(record.checkpoint_id(), dir_, base::failure(ENOMEM, {}));
    }
    record.Clear();
    if (!failure.empty())
      log_failure_(failure);
    lock.lock();
    in_flight_.clear();
    if (pending_.empty())
      idle_.notify_all();
  }
  idle_.notify_all();
}

std::string StateWriter::write_in_flight(const FrozenConnection &record)
{
  const std::string &id = record.checkpoint_id();
  auto bytes = encode(record);
  if (!bytes)
    return write_failure(id, dir_, bytes.error());
  if (options_.delay_each_write.count() > 0)
    std::this_thread::sleep_for(options_.delay_each_write);
  auto staged = StagedRecordFile::write(dir_, id, bytes.value());
  if (!staged)
    return write_failure(id, dir_, staged.error());
  {
    // Renamed under the lock: once save_now() or remove() has superseded
    // it, an older record never replaces what they left.
    std::lock_guard lock(mutex_);
    if (in_flight_superseded_)
      return {};
    if (auto renamed = staged.value().rename_into_place(); !renamed)
      return write_failure(id, dir_, renamed.error());
  }
  if (auto synced = staged.value().sync_directory(); !synced)
    return write_failure(id, dir_, synced.error());
  return {};
}

} // namespace dbus_checkpoint::record
