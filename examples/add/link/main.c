/*
 * main.c - links against the object `jitfarm compile add.ll -o add.o`
 * wrote, to show that the artifact is an ordinary relocatable object:
 *   cc main.c add.o -o add && ./add
 */
#include <stdint.h>
#include <stdio.h>

int64_t add(int64_t a, int64_t b);
int64_t sum_to(int64_t n);

int
main(void)
{
	printf("add(40, 2) = %lld\n", (long long)add(40, 2));
	printf("sum_to(100) = %lld\n", (long long)sum_to(100));
	return add(40, 2) == 42 && sum_to(100) == 4950 ? 0 : 1;
}
