/* Not an OpenMP program: OMP_TOOL_LIBRARIES must change nothing. */
#include <stdio.h>

int main(void) {
    long s = 0;
    for (int i = 1; i <= 100; ++i) s += i;
    printf("noomp result=%ld\n", s);
    return s == 5050 ? 0 : 1;
}
