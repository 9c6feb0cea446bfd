// duroxide/one_of.h — the common shape of the tagged unions of the data model.
//
// Duroxide's sum types (WorkItem, EventKind, ErrorDetails, AppErrorKind, PoisonMessageType) are
// nominal structs around a std::variant rather than bare variant aliases: a named type can be
// forward-declared by other headers, overloaded on, and gets readable compiler diagnostics, while
// `.value` still gives direct access to std::visit / std::get_if for exhaustive handling.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>
#include <variant>

namespace duroxide {

template <class... Alternatives>
struct OneOf {
  using Variant = std::variant<Alternatives...>;
  Variant value;

  // Default construction yields the first alternative (value-initialized); it exists so the
  // types can live in containers and be assigned later, not because it is a meaningful value.
  OneOf() = default;

  // Implicit on purpose: `WorkItem w = work_item::CancelInstance{...};` reads like the spec.
  template <class T>
    requires(std::is_same_v<std::remove_cvref_t<T>, Alternatives> || ...)
  OneOf(T&& alternative) : value(std::forward<T>(alternative)) {}  // NOLINT(google-explicit-constructor)

  template <class T>
  bool holds() const noexcept {
    return std::holds_alternative<T>(value);
  }
  template <class T>
  const T* get_if() const noexcept {
    return std::get_if<T>(&value);
  }
  template <class T>
  T* get_if() noexcept {
    return std::get_if<T>(&value);
  }
  std::size_t index() const noexcept { return value.index(); }

  template <class F>
  decltype(auto) visit(F&& f) const {
    return std::visit(std::forward<F>(f), value);
  }
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), value);
  }

  friend bool operator==(const OneOf&, const OneOf&) = default;
};

}  // namespace duroxide
