// A fresh directory under /tmp (short, so ipc socket paths fit), removed with everything
// in it when the object goes away.
#pragma once

#include <filesystem>
#include <string>

namespace hub::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/relative, creating parent directories.
  std::filesystem::path write(const std::string& relative, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

}  // namespace hub::test
