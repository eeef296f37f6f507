int crescent_bench_placeholder(void){return 0;}
