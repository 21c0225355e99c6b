/* A shared object with writable globals: check-globals.sh must refuse it,
 * which proves the check can fail. */
int counter;
static int hidden = 3;
int bump(void);
int bump(void)
{
    return ++counter + hidden++;
}
