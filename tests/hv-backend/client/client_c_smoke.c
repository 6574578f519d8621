/* Proves that vtasos/client.h is plain C: this file is compiled as C11. */
#include <string.h>

#include "vtasos/client.h"

int vtasos_c_smoke(const char* missing_socket) {
    vtasos_client* c = (vtasos_client*)0;
    int rc = vtasos_connect(missing_socket, 100, &c);
    if (rc != VTASOS_E_UNAVAILABLE || c != (vtasos_client*)0) return 1;
    if (strlen(vtasos_last_error((const vtasos_client*)0)) == 0) return 2;
    if (strcmp(vtasos_strerror(VTASOS_OK), "success") != 0) return 3;
    vtasos_close((vtasos_client*)0);
    return 0;
}
