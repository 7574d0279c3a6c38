#include "core/templates/template_parser.h"

#include <optional>
#include <utility>

namespace hub::templates {

bool is_id_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9'); }

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool all_blank(std::string_view s) {
  for (char c : s)
    if (!is_blank(c)) return false;
  return true;
}

// Why parse_elements stopped.
enum class Stop { kEnd, kCurly, kElseIf, kElse, kEndIf };

class Parser {
 public:
  Parser(std::string_view text, std::string file, Position start, Delimiters d)
      : s_(text), file_(std::move(file)), pos_(start), d_(d) {}

  Result<Elements> parse() {
    Elements out;
    const Stop stop = parse_elements(out, false, false);
    if (error_) return *error_;
    if (stop != Stop::kEnd) return Status::error("internal: parser stopped early");
    return out;
  }

 private:
  // --- characters ---
  bool eof() const { return i_ >= s_.size(); }
  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  void advance() {
    if (eof()) return;
    if (s_[i_] == '\n') {
      ++pos_.line;
      pos_.col = 1;
    } else {
      ++pos_.col;
    }
    ++i_;
  }
  // advance() up to END, in one step.
  void advance_to(size_t end) {
    for (size_t k = i_; k < end; ++k) {
      if (s_[k] == '\n') {
        ++pos_.line;
        pos_.col = 1;
      } else {
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
  bool expect_stop() {
    return expect(d_.stop, std::string("'") + d_.stop + "' to end the expression");
  }
  std::string read_id() {  // identifiers hold no newline: the column moves with them
    size_t end = i_;
    while (end < s_.size() && is_id_char(s_[end])) ++end;
    std::string id(s_.substr(i_, end - i_));
    pos_.col += static_cast<int>(end - i_);
    i_ = end;
    return id;
  }
  // True when the input continues with keyword WORD followed by a non-identifier character.
  bool at_word(std::string_view word) const {
    if (s_.substr(i_, word.size()) != word) return false;
    return !is_id_char(peek(word.size()));
  }

  // --- text mode ---
  void flush(std::string& pending, Elements& out, Position at) {
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
  std::optional<size_t> blank_line_prefix(const std::string& pending) const {
    const size_t nl = pending.rfind('\n');
    const size_t from = nl == std::string::npos ? 0 : nl + 1;
    if (nl == std::string::npos && !at_line_start_) return std::nullopt;
    if (!all_blank(std::string_view(pending).substr(from))) return std::nullopt;
    return from;
  }

  // After a tag that may stand alone on its line (if, elseif, else, endif, comment): when
  // only blanks surround it there, the line is dropped, newline and all, as ST does.
  // True when it was dropped.
  bool drop_standalone_line(std::string& pending, std::optional<size_t> prefix) {
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

  Stop parse_elements(Elements& out, bool in_sub, bool in_if) {
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
      if (c == '\\') {
        const char next = peek(1);
        if (next == d_.start || next == d_.stop || (in_sub && (next == '}' || next == '{'))) {
          advance();
          pending += next;
          advance();
          continue;
        }
        if (next == '\\' && peek(2) == d_.start) {  // \\< : a backslash, then an expression
          advance();
          advance();
          pending += '\\';
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

  void skip_comment(Position at) {
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
  void parse_escapes(std::string& pending) {
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

  static void append_utf8(std::string& out, unsigned code) {
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

  void parse_if(Elements& out, std::unique_ptr<Condition> condition, Position at, bool in_sub) {
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

  // --- conditions ---
  std::unique_ptr<Condition> parse_or() {
    int steps = 0;
    auto left = parse_and();
    while (!failed()) {
      skip_space();
      if (!(peek() == '|' && peek(1) == '|') || !step(steps)) break;
      advance();
      advance();
      auto c = std::make_unique<Condition>();
      c->kind = Condition::Kind::kOr;
      c->left = std::move(left);
      c->right = parse_and();
      left = std::move(c);
    }
    return left;
  }
  std::unique_ptr<Condition> parse_and() {
    int steps = 0;
    auto left = parse_not();
    while (!failed()) {
      skip_space();
      if (!(peek() == '&' && peek(1) == '&') || !step(steps)) break;
      advance();
      advance();
      auto c = std::make_unique<Condition>();
      c->kind = Condition::Kind::kAnd;
      c->left = std::move(left);
      c->right = parse_not();
      left = std::move(c);
    }
    return left;
  }
  std::unique_ptr<Condition> parse_not() {
    const Nest nest(*this);
    if (failed()) return nullptr;
    skip_space();
    auto c = std::make_unique<Condition>();
    if (peek() == '!') {
      advance();
      c->kind = Condition::Kind::kNot;
      c->left = parse_not();
      return c;
    }
    if (peek() == '(') {
      advance();
      c = parse_or();
      if (!failed()) expect(')', "')'");
      return c;
    }
    c->expr = parse_expr();
    return c;
  }

  // --- expressions ---
  ExprPtr make(Expr::Kind kind, Position at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = at;
    return e;
  }

  ExprPtr parse_expr() {
    int steps = 0;
    auto e = parse_chain();
    while (!failed()) {
      skip_space();
      if (peek() != ':' || !step(steps)) break;
      const Position at = pos_;
      advance();
      auto m = make(Expr::Kind::kMap, at);
      m->base = std::move(e);
      do {
        m->args.push_back(parse_target());
      } while (!failed() && accept(','));
      e = std::move(m);
    }
    return e;
  }

  ExprPtr parse_target() {
    skip_space();
    if (peek() == '{') return parse_subtemplate();
    const Position at = pos_;
    if (!is_id_start(peek())) {
      expected("a template after ':' ({x | ...} or name())");
      return nullptr;
    }
    auto call = make(Expr::Kind::kCall, at);
    call->name = read_id();
    if (!expect('(', "'(' after the template name " + call->name)) return nullptr;
    parse_args(*call);
    return call;
  }

  ExprPtr parse_chain() {
    auto e = parse_primary();
    int steps = 0;
    while (!failed() && peek() == '.' && step(steps)) {
      const Position at = pos_;
      advance();
      if (peek() == '(') {
        advance();
        auto ind = make(Expr::Kind::kIndirect, at);
        ind->base = std::move(e);
        ind->index = parse_expr();
        if (!failed()) expect(')', "')' after .(expression");
        e = std::move(ind);
      } else if (is_id_start(peek())) {
        auto prop = make(Expr::Kind::kProperty, at);
        prop->base = std::move(e);
        prop->name = read_id();
        e = std::move(prop);
      } else {
        expected("a property name or '(' after '.'");
      }
    }
    return e;
  }

  ExprPtr parse_primary() {
    const Nest nest(*this);
    if (failed()) return nullptr;
    skip_space();
    const Position at = pos_;
    const char c = peek();
    if (c == '"') return parse_string();
    if (c == '{') return parse_subtemplate();
    if (c == '(') {
      advance();
      auto e = parse_expr();
      if (!failed()) expect(')', "')'");
      return e;
    }
    if (!is_id_start(c)) {
      expected("an attribute name, a string, '{' or '('");
      return nullptr;
    }
    const std::string id = read_id();
    if (id == "true" || id == "false") {
      auto b = make(Expr::Kind::kBool, at);
      b->boolean = id == "true";
      return b;
    }
    if (peek() == '(') {
      advance();
      auto call = make(Expr::Kind::kCall, at);
      call->name = id;
      parse_args(*call);
      return call;
    }
    auto a = make(Expr::Kind::kAttribute, at);
    a->name = id;
    return a;
  }

  // After '(': arguments, positional or all by name, up to ')'.
  void parse_args(Expr& call) {
    skip_space();
    if (accept(')')) return;
    do {
      skip_space();
      std::string name;
      const size_t save_i = i_;
      const Position save_pos = pos_;
      if (is_id_start(peek())) {
        name = read_id();
        skip_space();
        if (peek() == '=') {
          advance();
        } else {
          name.clear();
          i_ = save_i;
          pos_ = save_pos;
        }
      }
      call.arg_names.push_back(name);
      call.args.push_back(parse_expr());
    } while (!failed() && accept(','));
    if (!failed()) expect(')', "',' or ')' in the arguments of " + call.name + "()");
  }

  ExprPtr parse_string() {
    auto s = make(Expr::Kind::kString, pos_);
    advance();  // '"'
    while (!eof() && peek() != '"' && peek() != '\n') {
      char c = peek();
      if (c == '\\') {
        advance();
        const char esc = peek();
        c = esc == 'n' ? '\n' : esc == 't' ? '\t' : esc == 'r' ? '\r' : esc;
        if (eof()) break;
      }
      s->name += c;
      advance();
    }
    if (peek() != '"') {
      expected("'\"' to end the string");
      return nullptr;
    }
    advance();
    return s;
  }

  ExprPtr parse_subtemplate() {
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

  // ; separator="...", null="..." (and ST's other options, refused by name).
  void parse_options(Element& e) {
    while (!failed() && accept(';')) {
      skip_space();
      const Position at = pos_;
      const std::string name = read_id();
      if (name != "separator" && name != "null") {
        fail(at, "unknown option '" + name + "': expected separator or null");
        return;
      }
      if (!expect('=', "'=' after " + name)) return;
      auto value = parse_expr();
      (name == "separator" ? e.separator : e.null_value) = std::move(value);
      while (!failed() && accept(',')) {
        skip_space();
        const Position at2 = pos_;
        const std::string n2 = read_id();
        if (n2 != "separator" && n2 != "null") {
          fail(at2, "unknown option '" + n2 + "': expected separator or null");
          return;
        }
        if (!expect('=', "'=' after " + n2)) return;
        (n2 == "separator" ? e.separator : e.null_value) = parse_expr();
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string file_;
  Position pos_;
  Delimiters d_;
  bool at_line_start_ = true;
  std::optional<Status> error_;
  std::unique_ptr<Condition> pending_condition_;  // an <elseif>'s, for parse_if
  int nesting_ = 0;
  Position branch_tag_pos_;  // where the last elseif, else or endif is
};

}  // namespace

Result<Elements> parse_template(std::string_view text, const std::string& file, Position start,
                                Delimiters delimiters) {
  return Parser(text, file, start, delimiters).parse();
}

}  // namespace hub::templates
