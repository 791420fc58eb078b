/* placeholder replaced by the CLI */
#include <stdio.h>
int main(void) { puts("jitfarm"); return 0; }
