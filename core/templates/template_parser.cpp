#include "core/templates/template_parser.h"

#include "core/templates/template_parser_impl.h"

namespace hub::templates {

namespace detail {

namespace {

bool all_blank(std::string_view s) {
  for (char c : s)
    if (!is_blank(c)) return false;
  return true;
}

}  // namespace

Result<Elements> Parser::parse() {
  Elements out;
  const Stop stop = parse_elements(out, false, false);
  if (error_) return *error_;
  if (stop != Stop::kEnd) return Status::error("internal: parser stopped early");
  return out;
}

void Parser::flush(std::string& pending, Elements& out, Position at) {
  if (pending.empty()) return;
  at_line_start_ = pending.back() == '\n';
  Element e;
  e.kind = Element::Kind::kText;
  e.pos = at;
  e.text = std::move(pending);
  pending.clear();
  out.push_back(std::move(e));
}

// The blanks that begin the current line when nothing else precedes the tag there.
std::optional<size_t> Parser::blank_line_prefix(const std::string& pending) const {
  const size_t nl = pending.rfind('\n');
  const size_t from = nl == std::string::npos ? 0 : nl + 1;
  if (nl == std::string::npos && !at_line_start_) return std::nullopt;
  if (!all_blank(std::string_view(pending).substr(from))) return std::nullopt;
  return from;
}

// After a tag that may stand alone on its line (if, elseif, else, endif, comment): when
// only blanks surround it there, the line is dropped, newline and all, as ST does.
// True when it was dropped.
bool Parser::drop_standalone_line(std::string& pending, std::optional<size_t> prefix) {
  if (!prefix) return false;
  size_t k = 0;
  while (is_blank(peek(k))) ++k;
  const char end = peek(k);
  if (end != '\n' && end != '\r' && i_ + k < s_.size()) return false;
  pending.resize(*prefix);
  for (size_t n = 0; n < k; ++n) advance();
  if (peek() == '\r' && peek(1) == '\n') advance();
  if (peek() == '\n') advance();
  if (pending.empty()) at_line_start_ = true;
  return true;
}

Stop Parser::parse_elements(Elements& out, bool in_sub, bool in_if) {
  const Nest nest(*this);
  std::string pending;
  Position text_pos = pos_;
  while (!eof() && !failed()) {
    const char c = peek();
    if (pending.empty()) text_pos = pos_;
    if (in_sub && c == '}') {
      flush(pending, out, text_pos);
      return Stop::kCurly;
    }
    if (c == '\\') {  // as ST4's lexer: \\ is a backslash, \< and \} the character
      const char next = peek(1);
      if (next == d_.start || next == '}' || next == '\\') {
        advance();
        pending += next;
        advance();
        continue;
      }
      pending += c;
      advance();
      continue;
    }
    if (c != d_.start) {  // plain text up to the next character that may mean more
      size_t end = i_ + 1;
      while (end < s_.size() && s_[end] != d_.start && s_[end] != '\\' &&
             !(in_sub && s_[end] == '}'))
        ++end;
      pending.append(s_.data() + i_, end - i_);
      advance_to(end);
      continue;
    }
    // A tag.
    const Position tag_pos = pos_;
    const std::optional<size_t> prefix = blank_line_prefix(pending);
    advance();
    if (peek() == '!') {
      skip_comment(tag_pos);
      (void)drop_standalone_line(pending, prefix);
      continue;
    }
    const size_t save_i = i_;
    const Position save_pos = pos_;
    skip_space();
    if (at_word("if") || at_word("elseif")) {
      const bool is_elseif = at_word("elseif");
      if (is_elseif && !in_if) {
        fail(tag_pos, "<elseif> without an open <if>");
        break;
      }
      for (int n = is_elseif ? 6 : 2; n > 0; --n) advance();
      if (!expect('(', "'(' after if")) break;
      auto condition = parse_or();
      if (failed() || !expect(')', "')' to close the condition") || !expect_stop()) break;
      const bool dropped = drop_standalone_line(pending, prefix);
      flush(pending, out, text_pos);
      if (!dropped) at_line_start_ = false;
      if (is_elseif) {
        branch_tag_pos_ = tag_pos;
        pending_condition_ = std::move(condition);
        return Stop::kElseIf;
      }
      parse_if(out, std::move(condition), tag_pos, in_sub);
      continue;
    }
    if (at_word("else") || at_word("endif")) {
      const bool is_else = at_word("else");
      if (!in_if) {
        fail(tag_pos, std::string("<") + (is_else ? "else" : "endif") + "> without an open <if>");
        break;
      }
      for (int n = is_else ? 4 : 5; n > 0; --n) advance();
      if (!expect_stop()) break;
      const bool dropped = drop_standalone_line(pending, prefix);
      flush(pending, out, text_pos);
      if (!dropped) at_line_start_ = false;
      branch_tag_pos_ = tag_pos;
      return is_else ? Stop::kElse : Stop::kEndIf;
    }
    if (peek() == '\\') {
      i_ = save_i;
      pos_ = save_pos;
      parse_escapes(pending);
      continue;
    }
    // An expression.
    Element e;
    e.kind = Element::Kind::kExpr;
    e.pos = tag_pos;
    if (prefix) e.indent = pending.substr(*prefix);
    flush(pending, out, text_pos);
    e.expr = parse_expr();
    if (failed()) break;
    parse_options(e);
    if (failed() || !expect_stop()) break;
    at_line_start_ = false;
    out.push_back(std::move(e));
  }
  if (failed()) return Stop::kEnd;
  flush(pending, out, text_pos);
  return Stop::kEnd;
}

void Parser::skip_comment(Position at) {
  advance();  // '!'
  while (!eof()) {
    if (peek() == '!' && peek(1) == d_.stop) {
      advance();
      advance();
      return;
    }
    advance();
  }
  fail(at, std::string("unterminated comment: expected '!") + d_.stop + "'");
}

// <\n>, <\t>, <\r>, <\ >, <\\>, <\uXXXX>, several in one tag (<\n\t>).
void Parser::parse_escapes(std::string& pending) {
  skip_space();
  while (!failed() && peek() == '\\') {
    const Position at = pos_;
    advance();
    const char c = peek();
    advance();
    switch (c) {
      case 'n':
        pending += '\n';
        break;
      case 't':
        pending += '\t';
        break;
      case 'r':
        pending += '\r';
        break;
      case ' ':
        pending += ' ';
        break;
      case '\\':
        pending += '\\';
        break;
      case 'u': {
        unsigned code = 0;
        for (int n = 0; n < 4; ++n) {
          const char h = peek();
          int v = h >= '0' && h <= '9'   ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
          if (v < 0) {
            expected("4 hex digits after \\u");
            return;
          }
          code = code * 16 + static_cast<unsigned>(v);
          advance();
        }
        append_utf8(pending, code);
        break;
      }
      default:
        fail(at, "unknown escape: expected \\n, \\t, \\r, \\ (space), \\\\ or \\uXXXX");
        return;
    }
    skip_space();
  }
  if (!failed()) expect_stop();
  at_line_start_ = !pending.empty() && pending.back() == '\n';
}

void Parser::append_utf8(std::string& out, unsigned code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

void Parser::parse_if(Elements& out, std::unique_ptr<Condition> condition, Position at,
                      bool in_sub) {
  Element e;
  e.kind = Element::Kind::kIf;
  e.pos = at;
  bool seen_else = false;
  while (!failed()) {
    Branch b;
    b.condition = std::move(condition);
    const Stop stop = parse_elements(b.body, in_sub, true);
    e.branches.push_back(std::move(b));
    if (failed()) return;
    if (stop == Stop::kEndIf) break;
    if (stop == Stop::kEnd || stop == Stop::kCurly) {
      fail(at, std::string("<if> is never closed: expected <endif> before ") +
                   (stop == Stop::kEnd ? "the end of the file" : "'}'"));
      return;
    }
    if (seen_else) {
      fail(branch_tag_pos_, std::string(stop == Stop::kElse ? "<else>" : "<elseif>") +
                                " after <else>: expected <endif>");
      return;
    }
    if (stop == Stop::kElse) {
      seen_else = true;
      condition = nullptr;
    } else {
      condition = std::move(pending_condition_);
    }
  }
  out.push_back(std::move(e));
}

ExprPtr Parser::parse_subtemplate() {
  const Position at = pos_;
  advance();  // '{'
  auto e = make(Expr::Kind::kSubtemplate, at);
  e->sub = std::make_shared<Subtemplate>();
  // Parameters: "{a, b |", else none (the text starts right after '{').
  const size_t save_i = i_;
  const Position save_pos = pos_;
  std::vector<std::string> params;
  bool body_at_line_start = false;
  skip_space();
  while (is_id_start(peek())) {
    params.push_back(read_id());
    skip_space();
    if (peek() != ',') break;
    advance();
    skip_space();
  }
  if (!params.empty() && peek() == '|') {
    advance();
    if (is_space(peek())) {  // one blank after '|' is ST's layout, not text
      body_at_line_start = peek() == '\n';
      advance();
    }
    e->sub->params = std::move(params);
  } else {
    i_ = save_i;
    pos_ = save_pos;
  }
  const bool line_start = at_line_start_;
  at_line_start_ = body_at_line_start;
  const Stop stop = parse_elements(e->sub->body, true, false);
  at_line_start_ = line_start;
  if (failed()) return nullptr;
  if (stop != Stop::kCurly) {
    fail(at, "anonymous template is never closed: expected '}'");
    return nullptr;
  }
  advance();  // '}'
  return e;
}
}  // namespace detail

Result<Elements> parse_template(std::string_view text, const std::string& file, Position start,
                                Delimiters delimiters) {
  return detail::Parser(text, file, start, delimiters).parse();
}

Result<Elements> parse_template(const MappedText& body, const std::string& file,
                                Delimiters delimiters) {
  return detail::Parser(body, file, delimiters).parse();
}

}  // namespace hub::templates
