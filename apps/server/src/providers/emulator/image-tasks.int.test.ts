import { PNG } from 'pngjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startEmulator, type Emulator } from './index'
import { KEY, get, post, send } from './test-support'

let emu: Emulator
let base: string
beforeAll(async () => {
  emu = await startEmulator({ taskPolls: 2 })
  base = `${emu.url}/api/v1`
})
afterAll(() => emu.close())

const ASYNC = { 'X-DashScope-Async': 'enable' }
const create = (body: unknown, headers: Record<string, string> = ASYNC) => post(`${base}/services/aigc/text2image/image-synthesis`, body, headers)
const poll = async (id: string, key = KEY) => (await get(`${base}/tasks/${id}`, key)).json()
const job = (parameters: Record<string, unknown> = {}, prompt = 'a red fox in snow, watercolor') => ({ model: 'wanx2.1-t2i-turbo', input: { prompt }, parameters: { size: '640*512', n: 2, seed: 42, ...parameters } })
const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/

async function createTask(body: unknown = job()): Promise<string> {
  const res = await create(body)
  expect(res.status).toBe(200)
  const created = await res.json()
  expect(created).toEqual({ output: { task_status: 'PENDING', task_id: expect.any(String) }, request_id: expect.any(String) })
  return created.output.task_id
}

describe('DashScope image synthesis tasks', () => {
  it('refuses a synchronous call with 403 AccessDenied', async () => {
    const res = await create(job(), {})
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ code: 'AccessDenied', message: 'current user api does not support synchronous calls', request_id: expect.any(String) })
  })

  it.each([
    ['a side under 512', { size: '500*1024' }],
    ['a side over 1440', { size: '1024*1500' }],
    ['a size with x', { size: '1024x1024' }],
    ['n = 5', { n: 5 }],
    ['n = 0', { n: 0 }],
  ])('refuses %s with 400 InvalidParameter', async (_label, params) => {
    const res = await create(job(params))
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe('InvalidParameter')
  })

  it('refuses a prompt over the model limit and a missing prompt', async () => {
    expect((await create(job({}, 'x'.repeat(501)))).status).toBe(400)
    expect((await create({ model: 'wanx2.1-t2i-plus', input: {}, parameters: {} })).status).toBe(400)
  })

  it('goes PENDING → RUNNING → SUCCEEDED over the configured polls, with times, metrics, results and usage', async () => {
    const id = await createTask()
    const first = await poll(id)
    expect(first.output).toMatchObject({ task_id: id, task_status: 'PENDING', task_metrics: { TOTAL: 2, SUCCEEDED: 0, FAILED: 0 } })
    expect(first.output.submit_time).toMatch(TIME)
    const second = await poll(id)
    expect(second.output.task_status).toBe('RUNNING')
    expect(second.output.scheduled_time).toMatch(TIME)
    const done = await poll(id)
    expect(done.output).toMatchObject({ task_status: 'SUCCEEDED', task_metrics: { TOTAL: 2, SUCCEEDED: 2, FAILED: 0 } })
    expect(done.output.end_time).toMatch(TIME)
    expect(done.usage).toEqual({ image_count: 2 })
    expect(done.output.results).toHaveLength(2)
    for (const r of done.output.results) {
      expect(r).toEqual({ orig_prompt: 'a red fox in snow, watercolor', actual_prompt: expect.stringContaining('a red fox in snow'), url: expect.stringMatching(/\/__emulator\/files\/.+\.png\?Expires=\d+$/) })
    }
    // Terminal tasks stay terminal.
    expect((await poll(id)).output.task_status).toBe('SUCCEEDED')
  })

  it('serves each result as a decodable PNG of the requested size, deterministic per prompt, seed and index', async () => {
    const fetchPngs = async (body: unknown) => {
      const id = await createTask(body)
      let status = await poll(id)
      while (status.output.task_status !== 'SUCCEEDED') status = await poll(id)
      return Promise.all(
        status.output.results.map(async (r: { url: string }) => {
          const res = await send(r.url)
          expect(res.status).toBe(200)
          expect(res.headers.get('content-type')).toBe('image/png')
          return Buffer.from(await res.arrayBuffer())
        }),
      )
    }
    const [a0, a1] = await fetchPngs(job())
    const decoded = PNG.sync.read(a0)
    expect([decoded.width, decoded.height]).toEqual([640, 512])
    expect(a0.equals(a1)).toBe(false)
    const [b0] = await fetchPngs(job())
    expect(b0.equals(a0)).toBe(true)
    const [c0] = await fetchPngs(job({ seed: 43 }))
    expect(c0.equals(a0)).toBe(false)
  })

  it('refuses a result URL whose Expires was altered', async () => {
    const id = await createTask(job({ n: 1 }))
    let status = await poll(id)
    while (status.output.task_status !== 'SUCCEEDED') status = await poll(id)
    const url = new URL(status.output.results[0].url)
    url.searchParams.set('Expires', String(Number(url.searchParams.get('Expires')) + 1000))
    const res = await send(url)
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('<Code>AccessDenied</Code>')
  })

  it('answers UNKNOWN for an unknown id and for another account’s task', async () => {
    expect((await poll('00000000-0000-0000-0000-000000000000')).output).toEqual({ task_id: '00000000-0000-0000-0000-000000000000', task_status: 'UNKNOWN' })
    const id = await createTask()
    expect((await poll(id, 'sk-someone-else')).output.task_status).toBe('UNKNOWN')
  })

  it('cancels a task only while it is PENDING', async () => {
    const id = await createTask()
    const cancel = await post(`${base}/tasks/${id}/cancel`, {})
    expect(cancel.status).toBe(200)
    expect((await poll(id)).output.task_status).toBe('CANCELED')
    const late = await createTask()
    await poll(late)
    await poll(late) // now RUNNING
    const refused = await post(`${base}/tasks/${late}/cancel`, {})
    expect(refused.status).toBe(400)
    expect((await refused.json()).code).toBe('UnsupportedOperation')
  })

  it('ends FAILED with HTTP 200 and output.code when the image_task_failed fault is armed', async () => {
    emu.inject({ type: 'image_task_failed', code: 'InternalError.Algo', message: 'boom' })
    const id = await createTask()
    let status = await poll(id)
    while (status.output.task_status === 'PENDING' || status.output.task_status === 'RUNNING') status = await poll(id)
    expect(status.output).toMatchObject({ task_status: 'FAILED', code: 'InternalError.Algo', message: 'boom' })
    expect(status).not.toHaveProperty('usage')
    // Only the next task was affected.
    const next = await createTask()
    await poll(next)
    await poll(next)
    expect((await poll(next)).output.task_status).toBe('SUCCEEDED')
  })

  it('succeeds partially with image_partial_failure: failed results carry code/message instead of url', async () => {
    emu.inject({ type: 'image_partial_failure', failed: 1 })
    const id = await createTask(job({ n: 3 }))
    await poll(id)
    await poll(id)
    const done = await poll(id)
    expect(done.output.task_status).toBe('SUCCEEDED')
    expect(done.output.task_metrics).toEqual({ TOTAL: 3, SUCCEEDED: 2, FAILED: 1 })
    expect(done.usage).toEqual({ image_count: 2 })
    expect(done.output.results[2]).toEqual({ code: expect.any(String), message: expect.any(String) })
    expect(done.output.results[0].url).toEqual(expect.any(String))
  })

  it('refuses a flagged prompt at submit with the content_filter fault', async () => {
    emu.inject({ type: 'content_filter' })
    const res = await create(job())
    expect(res.status).toBe(400)
    expect((await res.json()).code).toBe('DataInspectionFailed')
  })

  it('finishes at once with taskPolls 0', async () => {
    const quick = await startEmulator({ taskPolls: 0 })
    try {
      const res = await post(`${quick.url}/api/v1/services/aigc/text2image/image-synthesis`, { model: 'wanx-v1', input: { prompt: '一只猫' }, parameters: { n: 1, size: '512*512' } }, ASYNC)
      const id = (await res.json()).output.task_id
      const done = await (await get(`${quick.url}/api/v1/tasks/${id}`)).json()
      expect(done.output.task_status).toBe('SUCCEEDED')
      // wanx-v1 does not rewrite prompts.
      expect(done.output.results[0]).toEqual({ url: expect.any(String) })
    } finally {
      await quick.close()
    }
  })
})
