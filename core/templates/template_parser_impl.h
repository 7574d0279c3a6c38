// The parser behind parse_template (template_parser.h): one class in two files,
// template_parser.cpp (text, tags, <if>, anonymous templates) and template_expressions.cpp
// (expressions, conditions, options). Internal to core/templates/.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/templates/template_parser.h"
#include "core/templates/template_scanner.h"

namespace hub::templates::detail {

// Why parse_elements stopped.
enum class Stop { kEnd, kCurly, kElseIf, kElse, kEndIf };

class Parser : private Scanner {
 public:
  Parser(std::string_view text, std::string file, Position start, Delimiters d)
      : Scanner(text, std::move(file), start), d_(d) {}
  Parser(const MappedText& text, std::string file, Delimiters d)
      : Scanner(text, std::move(file)), d_(d) {}

  Result<Elements> parse();

 private:
  bool expect_stop() {
    return expect(d_.stop, std::string("'") + d_.stop + "' to end the expression");
  }

  // Nesting (of ifs, anonymous templates, parentheses, calls, and the steps of a chain
  // such as a.b.c or a && b) is bounded, so no template can exhaust the stack.
  static constexpr int kMaxNesting = 100;
  class Nest {
   public:
    explicit Nest(Parser& p) : p_(p) {
      if (++p_.nesting_ > kMaxNesting) p_.fail(p_.pos_, "nested more than 100 deep");
    }
    ~Nest() { --p_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Parser& p_;
  };
  // One more step of a chain: fails past kMaxNesting steps.
  bool step(int& steps) {
    if (++steps <= kMaxNesting) return true;
    fail(pos_, "more than 100 steps in one expression");
    return false;
  }

  // Text mode (template_parser.cpp).
  void flush(std::string& pending, Elements& out, Position at);
  std::optional<size_t> blank_line_prefix(const std::string& pending) const;
  bool drop_standalone_line(std::string& pending, std::optional<size_t> prefix);
  Stop parse_elements(Elements& out, bool in_sub, bool in_if);
  void skip_comment(Position at);
  void parse_escapes(std::string& pending);
  static void append_utf8(std::string& out, unsigned code);
  void parse_if(Elements& out, std::unique_ptr<Condition> condition, Position at, bool in_sub);
  ExprPtr parse_subtemplate();

  // Expressions and conditions (template_expressions.cpp).
  std::unique_ptr<Condition> parse_or();
  std::unique_ptr<Condition> parse_and();
  std::unique_ptr<Condition> parse_not();
  ExprPtr make(Expr::Kind kind, Position at);
  ExprPtr parse_expr();
  ExprPtr parse_target();
  ExprPtr parse_chain();
  ExprPtr parse_primary();
  void parse_args(Expr& call);
  ExprPtr parse_string();
  void parse_options(Element& e);

  Delimiters d_;
  bool at_line_start_ = true;
  std::unique_ptr<Condition> pending_condition_;  // an <elseif>'s, for parse_if
  int nesting_ = 0;
  Position branch_tag_pos_;  // where the last elseif, else or endif is
};

}  // namespace hub::templates::detail
