import users from '../../../users.cjs';

// A server-rendered page: awaiting searchParams makes it dynamic, rendered for every request.
export default async function UserPage({ searchParams }) {
  const { id = '42' } = await searchParams;
  const u = users.user(id);
  return (
    <main>
      <h1>{u.name}</h1>
      <dl>
        <dt>email</dt>
        <dd>{u.email}</dd>
        <dt>plan</dt>
        <dd>{u.plan}</dd>
      </dl>
    </main>
  );
}
