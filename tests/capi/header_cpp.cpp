// The C API header compiles as C++ and its declarations have C linkage.
#include <duroxide/c/provider.h>

#include <cstdio>
#include <type_traits>

static_assert(std::is_standard_layout_v<duroxide_result>);
static_assert(sizeof(duroxide_result) == 48);

int main() {
  uint32_t (*version)(void) = &duroxide_c_api_version;
  int (*close)(duroxide_provider*) = &duroxide_provider_close;
  if (version() >> 16 != DUROXIDE_C_API_VERSION_MAJOR || close(nullptr) != DUROXIDE_EINVAL) return 1;
  std::printf("header: C++ ok\n");
  return 0;
}
