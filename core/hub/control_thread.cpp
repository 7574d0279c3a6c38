#include "core/hub/control_thread.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

namespace hub {

ControlThread::ControlThread() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_) throw std::system_error(errno, std::generic_category(), "eventfd");
  thread_ = std::thread([this] { loop(); });
}

ControlThread::~ControlThread() { stop(Status::error("hubd is stopping")); }

void ControlThread::submit(ControlOperation op) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      queued_cv_.notify_one();
      return;
    }
  }
  if (op.dropped) on_main([op = std::move(op)] { op.dropped(Status::error("hubd is stopping")); });
}

void ControlThread::on_main(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

void ControlThread::run_main_tasks() {
  uint64_t count = 0;
  (void)!::read(wake_.get(), &count, sizeof count);
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard lock(mu_);
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

bool ControlThread::busy() const {
  std::lock_guard lock(mu_);
  return running_ || !queue_.empty();
}

void ControlThread::loop() {
  for (;;) {
    ControlOperation op;
    {
      std::unique_lock lock(mu_);
      queued_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // stop() drops what is queued
      op = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    if (op.deadline && std::chrono::system_clock::now() > *op.deadline) {
      spdlog::warn("{}: its caller's deadline passed while it waited: not done", op.what);
      if (op.dropped) {
        on_main([dropped = std::move(op.dropped)] {
          dropped(Status::timeout("the request waited past its deadline and was not carried out"));
        });
      }
    } else {
      try {
        op.run();
      } catch (const std::exception& e) {  // a library's surprise must not end hubd
        spdlog::error("{}: {}", op.what, e.what());
      }
    }
    std::lock_guard lock(mu_);
    running_ = false;
  }
}

void ControlThread::stop(const Status& why) {
  std::deque<ControlOperation> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    queued_cv_.notify_one();
  }
  for (auto& op : dropped) {
    spdlog::info("{}: not done, {}", op.what, why.message());
    if (op.dropped) on_main([op = std::move(op), why] { op.dropped(why); });
  }
  if (thread_.joinable()) thread_.join();
  run_main_tasks();
}

}  // namespace hub
