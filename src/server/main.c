/* TEMPORARY: replaced by the server's entry point. */
int main(void);
int main(void) { return 1; }
