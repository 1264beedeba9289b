/* Loads and stores of every size, on the stack and through pointers. */
struct s { unsigned char b; unsigned short h; unsigned int w; unsigned long d; };

unsigned long load(struct s *p, long i)
{
	volatile struct s local = { 1, 2, 3, 4 };
	unsigned long x = p->b + p->h + p->w + p->d + local.d;
	return x + ((unsigned long *)p)[i] + ((signed char *)p)[5];
}

void store(struct s *p, unsigned long v)
{
	p->b = (unsigned char)v;
	p->h = (unsigned short)v;
	p->w = (unsigned int)v;
	p->d = v;
	p[-1].d = v + 1;
	p[100].w = (unsigned int)(v >> 32);
}
