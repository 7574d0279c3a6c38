// The lexical level of templates and group files: a cursor over their text that knows the
// line and column it is at, reads identifiers, and keeps the first error as
// "FILE:LINE:COL: what". Not thread-safe (one per parse).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bus/status.h"
#include "core/templates/template_ast.h"

namespace hub::templates {

// Characters that may start (FIRST) or continue an ST identifier.
inline bool is_id_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9'); }
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Text cut from a file with characters removed or replaced on the way (a group template's
// body: escapes resolved, <%...%> layout dropped), and for each of its bytes, then for its
// end, the position in the file it came from.
struct MappedText {
  std::string text;
  std::vector<Position> origins;  // text.size() + 1 entries once complete

  void append(char c, Position from) {
    text += c;
    origins.push_back(from);
  }
  // Ends the text at END (where the first character after it is in the file).
  void finish(Position end) { origins.push_back(end); }
  // Drops the last character of a finished text: the text now ends where it was.
  void drop_last() {
    text.pop_back();
    origins.pop_back();
  }
};

class Scanner {
 public:
  // TEXT starts at START of FILE (a .st file's body after its directive lines).
  Scanner(std::string_view text, std::string file, Position start)
      : s_(text), file_(std::move(file)), pos_(start) {}
  // TEXT's positions are its origins (a group template's body, mapped to its group file).
  Scanner(const MappedText& text, std::string file)
      : s_(text.text),
        file_(std::move(file)),
        pos_(text.origins.front()),
        origins_(&text.origins) {}

 protected:
  // Columns count characters, as editors do: a UTF-8 continuation byte is not one.
  static bool starts_character(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }
  bool eof() const { return i_ >= s_.size(); }
  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  void advance() {
    if (eof()) return;
    if (origins_) {
      pos_ = (*origins_)[++i_];
      return;
    }
    if (s_[i_] == '\n') {
      ++pos_.line;
      pos_.col = 1;
    } else if (starts_character(s_[i_])) {
      ++pos_.col;
    }
    ++i_;
  }
  // advance() up to END, in one step.
  void advance_to(size_t end) {
    if (origins_) {
      i_ = end;
      pos_ = (*origins_)[end];
      return;
    }
    for (size_t k = i_; k < end; ++k) {
      if (s_[k] == '\n') {
        ++pos_.line;
        pos_.col = 1;
      } else if (starts_character(s_[k])) {
        ++pos_.col;
      }
    }
    i_ = end;
  }
  void skip_space() {
    while (!eof() && is_space(peek())) advance();
  }
  std::string found() const {
    if (eof()) return "end of file";
    if (peek() == '\n') return "end of line";
    return std::string("'") + peek() + "'";
  }
  bool failed() const { return error_.has_value(); }
  // Records the first error only; every caller unwinds once failed().
  void fail(Position at, const std::string& what) {
    if (error_) return;
    error_ = Status::error(file_ + ":" + std::to_string(at.line) + ":" + std::to_string(at.col) +
                           ": " + what);
  }
  void expected(const std::string& what) { fail(pos_, "expected " + what + ", found " + found()); }
  bool accept(char c) {
    skip_space();
    if (peek() != c) return false;
    advance();
    return true;
  }
  bool expect(char c, const std::string& what) {
    if (accept(c)) return true;
    expected(what);
    return false;
  }
  std::string read_id() {
    size_t end = i_;
    while (end < s_.size() && is_id_char(s_[end])) ++end;
    std::string id(s_.substr(i_, end - i_));
    advance_to(end);
    return id;
  }
  // True when the input continues with keyword WORD followed by a non-identifier character.
  bool at_word(std::string_view word) const {
    if (s_.substr(i_, word.size()) != word) return false;
    return !is_id_char(peek(word.size()));
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string file_;
  Position pos_;
  std::optional<Status> error_;

 private:
  const std::vector<Position>* origins_ = nullptr;  // where each byte of s_ is in file_
};

}  // namespace hub::templates
