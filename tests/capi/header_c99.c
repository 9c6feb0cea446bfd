/* The C API header compiles as strict C99 (-std=c99 -pedantic -Wall -Wextra -Werror) and the
 * result struct has the layout of c-api.md §2.1. */
#include <duroxide/c/provider.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define STATIC_CHECK(name, cond) typedef char static_check_##name[(cond) ? 1 : -1]
STATIC_CHECK(size, sizeof(duroxide_result) == 48);
STATIC_CHECK(ok, offsetof(duroxide_result, ok) == 0);
STATIC_CHECK(retryable, offsetof(duroxide_result, retryable) == 4);
STATIC_CHECK(operation, offsetof(duroxide_result, operation) == 8);
STATIC_CHECK(message, offsetof(duroxide_result, message) == 16);
STATIC_CHECK(sqlstate, offsetof(duroxide_result, sqlstate) == 24);
STATIC_CHECK(json, offsetof(duroxide_result, json) == 32);
STATIC_CHECK(json_len, offsetof(duroxide_result, json_len) == 40);
STATIC_CHECK(absent, DUROXIDE_DURATION_ABSENT == -1);

static void on_result(const duroxide_result *r, void *user_data)
{
    (void)r;
    (void)user_data;
}

int main(void)
{
    uint32_t v = duroxide_c_api_version();
    if (v != ((uint32_t)DUROXIDE_C_API_VERSION_MAJOR << 16 | DUROXIDE_C_API_VERSION_MINOR))
        return 1;
    {
        unsigned a, b, c;
        char tail;
        if (sscanf(duroxide_version(), "%u.%u.%u%c", &a, &b, &c, &tail) != 3)
            return 1;
    }
    if (strcmp(duroxide_provider_name(NULL), "duroxide-pg") != 0 || duroxide_provider_schema(NULL) != NULL)
        return 1;
    duroxide_string_free(NULL);
    duroxide_provider_free(NULL);
    if (duroxide_provider_close(NULL) != DUROXIDE_EINVAL)
        return 1;
    /* NULL handle or NULL callback: EINVAL, the callback never runs. */
    if (duroxide_provider_read(NULL, "x", on_result, NULL) != DUROXIDE_EINVAL)
        return 1;
    if (duroxide_admin_list_instances(NULL, on_result, NULL) != DUROXIDE_EINVAL)
        return 1;
    if (duroxide_provider_open_async("postgresql://x", NULL, NULL, NULL, NULL) != DUROXIDE_EINVAL)
        return 1;
    printf("header: C99 ok, sizeof(duroxide_result) = %u, version %s\n", (unsigned)sizeof(duroxide_result),
           duroxide_version());
    return 0;
}
