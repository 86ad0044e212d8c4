import users from '../../../../../users.cjs';

// A route handler: GET /api/users/:id?fields=a,b → JSON.
export async function GET(request, { params }) {
  const { id } = await params;
  return Response.json(users.userFields(id, request.nextUrl.searchParams.get('fields') ?? undefined));
}
