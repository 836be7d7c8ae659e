// An immutable value published by rare writers and read on every request: readers take no lock
// and share no reference count (each thread keeps its own reference until a new value comes).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace passerelle::plugins::directorates {

// std::atomic_load of a shared_ptr locks one of libstdc++'s pooled mutexes, and every copy of
// the pointer bumps one counter that all I/O threads fight over. Here each reading thread owns
// a slot holding its own reference and the version it was taken at; it goes back to the shared
// pointer (under the mutex) only after a publish. No thread_local: a plugin's library must not
// be kept mapped by thread exit handlers, and the slots go away with the plugin.
template <class T>
class SnapshotCell {
 public:
  explicit SnapshotCell(std::shared_ptr<const T> first) : shared_(std::move(first)) {}
  SnapshotCell(const SnapshotCell&) = delete;
  SnapshotCell& operator=(const SnapshotCell&) = delete;

  /// Makes `next` what readers see from now on. Readers that started before may still hold the
  /// previous value; it is freed once the last of them moves on.
  void publish(std::shared_ptr<const T> next) {
    std::lock_guard lock(mutex_);
    shared_ = std::move(next);
    version_.fetch_add(1, std::memory_order_release);
  }

  /// The current value as an owning pointer, for use across a co_await. Takes the mutex.
  std::shared_ptr<const T> shared() const {
    std::lock_guard lock(mutex_);
    return shared_;
  }

  /// What this thread reads now, without a lock. Valid until the same thread reads again after a
  /// publish, so use it before any co_await (hold shared() across one).
  class View {
   public:
    const T& operator*() const { return *value_; }
    const T* operator->() const { return value_; }

   private:
    friend class SnapshotCell;
    const T* value_ = nullptr;
    std::shared_ptr<const T> held_;  // only when no slot was free
  };

  View read() const {
    View view;
    const std::uint64_t now = version_.load(std::memory_order_acquire);
    if (Slot* slot = slot_of_this_thread()) {
      if (slot->version != now) {
        std::lock_guard lock(mutex_);
        slot->value = shared_;
        slot->version = version_.load(std::memory_order_relaxed);
      }
      view.value_ = slot->value.get();
    } else {
      view.held_ = shared();
      view.value_ = view.held_.get();
    }
    return view;
  }

 private:
  // One cache line each: the slots of two threads are written independently.
  struct alignas(64) Slot {
    std::atomic<std::thread::id> owner{};
    std::uint64_t version = 0;  // of `value`; 0: never read (versions start at 1)
    std::shared_ptr<const T> value;
  };
  // Well above the I/O threads of a server; a thread finding none free reads through shared().
  static constexpr std::size_t kSlots = 64;

  // A slot belongs to one thread id for good. A thread that ended leaves its slot (and the
  // reference in it) to the next thread given the same id, which is then its only user.
  Slot* slot_of_this_thread() const {
    const std::thread::id me = std::this_thread::get_id();
    const std::size_t start = std::hash<std::thread::id>{}(me) % kSlots;
    for (std::size_t i = 0; i < kSlots; ++i) {
      Slot& slot = slots_[(start + i) % kSlots];
      std::thread::id owner = slot.owner.load(std::memory_order_acquire);
      if (owner == me) return &slot;
      if (owner == std::thread::id() &&
          slot.owner.compare_exchange_strong(owner, me, std::memory_order_acq_rel))
        return &slot;
    }
    return nullptr;
  }

  mutable std::mutex mutex_;  // writers, and a reader refreshing its slot after a publish
  std::shared_ptr<const T> shared_;
  std::atomic<std::uint64_t> version_{1};
  mutable std::array<Slot, kSlots> slots_;
};

}  // namespace passerelle::plugins::directorates
