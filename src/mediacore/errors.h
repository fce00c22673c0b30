// Errors the core raises; the bindings translate them to vmedia.errors classes.
#pragma once
#include <stdexcept>
#include <string>

namespace mediacore {

// Bad arguments from the caller (sizes, strides, rectangles, sample counts...).
struct InvalidInput : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace mediacore
