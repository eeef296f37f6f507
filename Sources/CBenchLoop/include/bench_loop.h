int crescent_bench_placeholder(void);
