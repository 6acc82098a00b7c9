// Internal storage of the presence State: compact entries in fixed-size
// chunks (no reallocation, so a slot index is stable and growth never doubles
// memory), interned topics with a per-topic slot list (list(topic) walks only
// that topic), and a pool that hash-conses metas so identical metas are one
// shared object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plexus/presence/types.hpp"

namespace plexus::presence::detail {

inline constexpr std::uint32_t no_slot = 0xffffffffu;

/// One presence as stored: 88 bytes (keys up to 30 bytes inline).
struct Entry {
  Key key;
  MetaPtr meta;
  std::uint64_t owner = 0;
  Sequence clock = 0;
  std::uint32_t replica = 0;    ///< index into State's replica table
  std::uint32_t topic = 0;      ///< interned topic id
  std::uint32_t topic_pos = 0;  ///< position in the topic's slot list
  std::uint32_t owner_pos = 0;  ///< position in the owner's slot list (local entries)
};

/// Entries in chunks of chunk_size; freed slots are reused.
class EntryStore {
 public:
  static constexpr std::uint32_t chunk_size = 1024;

  std::uint32_t allocate() {
    if (!free_.empty()) {
      const std::uint32_t slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if (next_ % chunk_size == 0) chunks_.push_back(std::make_unique<Entry[]>(chunk_size));
    return next_++;
  }
  void release(std::uint32_t slot) {
    Entry& e = (*this)[slot];
    e.key.clear();
    e.meta.reset();
    free_.push_back(slot);
  }
  Entry& operator[](std::uint32_t slot) { return chunks_[slot / chunk_size][slot % chunk_size]; }
  const Entry& operator[](std::uint32_t slot) const { return chunks_[slot / chunk_size][slot % chunk_size]; }
  [[nodiscard]] std::size_t size() const { return next_ - free_.size(); }

 private:
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  std::vector<std::uint32_t> free_;
  std::uint32_t next_ = 0;
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// Interned topics, each with the slots of its entries.
class Topics {
 public:
  struct Topic {
    std::string name;
    std::vector<std::uint32_t> slots;
  };

  std::uint32_t intern(std::string_view name);
  [[nodiscard]] std::uint32_t find(std::string_view name) const;  ///< no_slot when absent
  Topic& operator[](std::uint32_t id) { return topics_[id]; }
  const Topic& operator[](std::uint32_t id) const { return topics_[id]; }
  /// Add/remove a slot of topic `id`; remove frees the topic when it empties.
  std::uint32_t add(std::uint32_t id, std::uint32_t slot);
  void remove(std::uint32_t id, std::uint32_t pos, EntryStore& store);
  [[nodiscard]] std::size_t count() const { return by_name_.size(); }

 private:
  std::vector<Topic> topics_;
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> by_name_;
};

/// Hash-consing of metas by their JSON text.
class MetaPool {
 public:
  MetaPtr intern(const nlohmann::json& meta);
  MetaPtr intern(const MetaPtr& meta);
  /// Forget metas no entry holds any more; call now and then.
  void collect();
  [[nodiscard]] std::size_t size() const { return by_text_.size(); }

 private:
  std::unordered_map<std::string, MetaPtr, StringHash, std::equal_to<>> by_text_;
  std::size_t collect_at_ = 64;
  MetaPtr last_;  ///< the last meta interned: tracks in a row mostly share one
};

}  // namespace plexus::presence::detail
